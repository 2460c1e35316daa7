"""Decision support.

AHP weights, scenarios, site selection and programme plans.
"""
