"""The scenario language: a TOML file's fields, validated, and what they build.

Arrivals, sweeps, schedules, thresholds, the autoscaling policy and worker settings; the
shipped scenarios are in ``builtin/``.
"""
