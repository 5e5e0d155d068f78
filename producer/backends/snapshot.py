"""What a queue backend reports of the async queue: the snapshot the metrics export."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The async queue as read from Redis (in the background, every ``QUEUE_REFRESH_S``)."""

    queued: int
    reserved: int
    oldest_enqueued_at: float | None

    @property
    def backlog(self) -> int:
        return self.queued + self.reserved
