"""Metrics plumbing shared by every service: buckets, multiprocess mode, Prometheus queries."""
