"""The ``burstlab`` command line: one module per command group."""
