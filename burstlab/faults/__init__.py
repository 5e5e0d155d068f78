"""Fault scenarios: kill workers, the broker or the baseline, overload and attack the producer."""
