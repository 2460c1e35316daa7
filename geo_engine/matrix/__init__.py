"""The indicator matrix.

Every layer spec turned into one column per cell (cached), plus derived columns such as poor
people.
"""
