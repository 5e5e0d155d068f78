"""The payloads file of a task target: one ``{"args": [...], "kwargs": {...}}`` per line.

The producer cycles through the lines in order, one per ``task`` job; the CLI reads the same file
before a run, so a bad line is refused, with its line number, before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

FIELDS = ("args", "kwargs")
MAX_LINES = 100_000


class PayloadError(ValueError):
    """The payloads file cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Payload:
    """The arguments of one call of the task."""

    args: list[Any]
    kwargs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"args": self.args, "kwargs": self.kwargs}


def parse_payload(raw: object, where: str) -> Payload:
    """One decoded line as a :class:`Payload`; ``where`` names it in the error."""
    if not isinstance(raw, dict):
        raise PayloadError(f'{where}: must be a JSON object {{"args": [...], "kwargs": {{...}}}}')
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise PayloadError(f"{where}: unknown field {unknown[0]!r}; allowed are args, kwargs")
    args, kwargs = raw.get("args", []), raw.get("kwargs", {})
    if not isinstance(args, list):
        raise PayloadError(f"{where}: 'args' must be an array")
    if not isinstance(kwargs, dict):
        raise PayloadError(f"{where}: 'kwargs' must be an object")
    return Payload(args, kwargs)


def read_payloads(path: Path | str) -> list[Payload]:
    """Every payload of the file, in order (blank lines are skipped).

    Raises :class:`PayloadError` naming the first bad line, or when the file is missing or holds
    no payload at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PayloadError(f"payloads file {path}: cannot read it ({exc})") from exc
    payloads: list[Payload] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"{where}: not valid JSON ({exc})") from exc
        payloads.append(parse_payload(raw, where))
        if len(payloads) > MAX_LINES:
            raise PayloadError(f"payloads file {path}: more than {MAX_LINES} lines")
    if not payloads:
        raise PayloadError(f"payloads file {path}: holds no payload line")
    return payloads
