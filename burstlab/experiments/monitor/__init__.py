"""Monitoring runs: the demo that fills the dashboards and the check that they tell the truth."""
