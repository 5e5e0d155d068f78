"""Shipped scenario TOML files, found with importlib.resources (see scenario.spec)."""
