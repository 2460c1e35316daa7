"""Rebuild step of Latin America and the Caribbean at admin-1 level (:mod:`curation.latam.latam`)."""
