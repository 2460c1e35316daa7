"""What leaves the platform.

Cell tables, roll-ups by admin unit, maps, exports, briefs and the validation against known
clusters.
"""
