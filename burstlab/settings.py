"""Settings shared by every service's typed config: defaults and environment parsing helpers."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The broker and job store when ``REDIS_URL`` is not set."""

FALSE_WORDS = ("0", "false", "no")
"""Values (any case) that turn a boolean setting off; anything else turns it on."""


def env_flag(env: Mapping[str, str], name: str, default: bool = True) -> bool:
    """Read the boolean setting ``name`` from ``env``: off for :data:`FALSE_WORDS`."""
    raw = env.get(name)
    if raw is None:
        return default
    return raw.lower() not in FALSE_WORDS


def read_metrics_enabled(env: Mapping[str, str]) -> bool:
    """``METRICS_ENABLED``: on unless turned off (only to measure what the metrics cost)."""
    return env_flag(env, "METRICS_ENABLED", default=True)
