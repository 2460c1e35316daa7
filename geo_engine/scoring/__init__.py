"""From indicators to scores.

Profiles, normalisation, evidence gates, aggregation, the dual model, explanations and
sensitivity.
"""
