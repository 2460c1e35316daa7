"""Geometry on the sphere and the H3 grid.

Great-circle distances, the one equal-area projection rule and grid building.
"""
