"""Latency-throughput sweeps: steps, run, tables, plots and the capacity each worker count holds."""
