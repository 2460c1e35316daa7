"""Peru's rebuild steps: one module per dataset family, run in the order of ``curation.STEPS``."""
