"""Brazil's rebuild: one step, :mod:`curation.brazil.brazil`, over the shared world layers."""
