"""Burst-load experiments: the load generator and the model below, one package per run kind above.

``runner`` dispatches a plan to its run kind and writes the results; docs/architecture.md draws
the packages and where a new run kind or target goes.
"""
