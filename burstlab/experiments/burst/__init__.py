"""The burst run: one mode's burst, measured beside its prediction."""
