"""Sharded load: P generators each send their share of one seeded schedule, from one start.

Every shard builds the same schedule from the same seed and keeps the sends whose index ``k``
satisfies ``k % P == I``, so the shards together send every planned job exactly once, each at its
planned offset from a start time they share (``--start-at``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

from burstlab.scenario.schedule import Schedule


class ShardError(ValueError):
    """A shard or start time that cannot be used."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(f"shard {self.index}/{self.count}: need 0 <= I < P")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/P"``, e.g. ``"0/4"``."""
        index, sep, count = text.partition("/")
        try:
            if not sep:
                raise ValueError(text)
            return cls(int(index), int(count))
        except ShardError:
            raise
        except ValueError as exc:
            raise ShardError(f"expected I/P such as 0/4, got {text!r}") from exc

    def select(self, schedule: Schedule) -> Schedule:
        """This shard's share of ``schedule``: the items whose index is ``index`` mod ``count``."""
        items = schedule.items[self.index :: self.count]
        return dataclasses.replace(schedule, items=items)

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_start_at(text: str, now: float | None = None) -> float:
    """The shared start as epoch seconds: an epoch (``1767225600.5``), or ``next:N``, the next
    multiple of N seconds of the wall clock at least N/2 seconds away.

    ``next:N`` lets processes started at about the same time agree on a start without sharing a
    value, as long as they all start within the same N/2 seconds.
    """
    now = time.time() if now is None else now
    if text.startswith("next:"):
        try:
            period = float(text.removeprefix("next:"))
        except ValueError as exc:
            raise ShardError(f"next:N needs a number of seconds, got {text!r}") from exc
        if period <= 0:
            raise ShardError("next:N needs N > 0")
        return math.ceil((now + period / 2) / period) * period
    try:
        return float(text)
    except ValueError as exc:
        raise ShardError(f"--start-at is an epoch or next:N, got {text!r}") from exc
