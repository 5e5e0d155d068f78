"""Autoscaling runs: a burst absorbed by the autoscaler, what it cost, and its figures."""
