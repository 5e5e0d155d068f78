"""Typed reading of parsed TOML tables with error messages that name the field."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any


class ScenarioError(ValueError):
    """A scenario file or table is invalid; the message names the offending field."""


def show(value: object) -> str:
    """Render a TOML value for an error message (strings keep their quotes)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Table:
    """One TOML table being read; remembers its dotted path and rejects unknown keys."""

    def __init__(self, data: object, where: str, allowed: Iterable[str]) -> None:
        self.where = where
        if not isinstance(data, dict):
            raise ScenarioError(f"{where or 'scenario'}: must be a table, got {show(data)}")
        self.data: dict[str, Any] = data
        allowed_keys = sorted(set(allowed))
        unknown = sorted(set(data) - set(allowed_keys))
        if unknown:
            raise ScenarioError(
                f'{where or "scenario"}: unknown key "{unknown[0]}"; '
                f"allowed: {', '.join(allowed_keys)}"
            )

    def path(self, key: str) -> str:
        """Dotted path of a key, e.g. ``arrival.rate``."""
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        """Whether the key is present."""
        return key in self.data

    def fail(self, key: str, expectation: str) -> ScenarioError:
        """An error for a present key that does not meet the expectation."""
        return ScenarioError(f"{self.path(key)}: {expectation}, got {show(self.data[key])}")

    def _required(self, key: str, what: str) -> Any:
        if key not in self.data:
            raise ScenarioError(f"{self.path(key)}: required, {what}")
        return self.data[key]

    def number(
        self,
        key: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        default: float | None = None,
    ) -> float:
        """A float, required unless a default is given, bounded by ``above`` or ``at_least``."""
        if key not in self.data and default is not None:
            return default
        expectation = "must be a number"
        if above is not None:
            expectation += f" > {above:g}"
        elif at_least is not None:
            expectation += f" >= {at_least:g}"
        value = self._required(key, expectation)
        if not _is_number(value):
            raise self.fail(key, expectation)
        if (above is not None and not value > above) or (
            at_least is not None and not value >= at_least
        ):
            raise self.fail(key, expectation)
        return float(value)

    def optional_number(
        self, key: str, *, above: float | None = None, at_least: float | None = None
    ) -> float | None:
        """A float if present, else None."""
        if key not in self.data:
            return None
        return self.number(key, above=above, at_least=at_least)

    def integer(self, key: str, *, at_least: int, default: int | None = None) -> int:
        """An int >= ``at_least``, required unless a default is given."""
        if key not in self.data and default is not None:
            return default
        expectation = f"must be an integer >= {at_least}"
        value = self._required(key, expectation)
        if not isinstance(value, int) or isinstance(value, bool) or value < at_least:
            raise self.fail(key, expectation)
        return value

    def optional_integer(self, key: str, *, at_least: int) -> int | None:
        """An int if present, else None."""
        return self.integer(key, at_least=at_least) if key in self.data else None

    def string(self, key: str, *, default: str | None = None) -> str:
        """A non-empty string, required unless a default is given."""
        if key not in self.data and default is not None:
            return default
        value = self._required(key, "must be a non-empty string")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, choices: Collection[str], *, default: str | None = None) -> str:
        """One of ``choices``."""
        expectation = "must be one of " + ", ".join(f'"{c}"' for c in choices)
        if key not in self.data:
            if default is not None:
                return default
            raise ScenarioError(f"{self.path(key)}: required, {expectation}")
        value = self.data[key]
        if value not in choices:
            raise self.fail(key, expectation)
        return str(value)

    def array(self, key: str, *, default: list[Any] | None = None) -> list[Any]:
        """A non-empty array, required unless a default is given."""
        if key not in self.data and default is not None:
            return default
        value = self._required(key, "must be a non-empty array")
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty array")
        return value
