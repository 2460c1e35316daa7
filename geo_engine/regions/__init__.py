"""Regions.

Shipped and user region files, their admin units, and uploads from the app.
"""
