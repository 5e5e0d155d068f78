"""The job model shared by every burstlab service: spec, validation, work function, records."""
