"""kombu's Redis transport with the fetch window closed: a message never lives only in a worker.

kombu's Redis transport takes a message with ``BRPOP`` (which removes it from the list) and records
it in the ``unacked`` hash only afterwards, in a second round trip; a worker killed between the two
takes the message with it (celery/celery#7950, kombu#1836). This transport waits for a message with
``BLMOVE list list RIGHT RIGHT`` (a blocking look at the tail that leaves the list as it was), then
takes it with one Lua script that pops it and records it as unacknowledged in the same step
(``lua/claim_message.lua``). From then on kombu does everything as usual: the ack removes the
entry, a rejected or dead worker's message is restored from the hash (``restore_by_tag`` runs in a
MULTI, so the restore path has no window either).

A worker also keeps its messages visible: every third of the visibility timeout it moves the
score of each message it holds in ``unacked_index`` to now (``ZADD XX``: entries already acked or
restored are not brought back). So kombu's sweep restores only a *dead* worker's messages, and
the visibility timeout can be short (seconds) without redelivering a long job that still runs.

Consumers with ``no_ack`` and brokers with a ``global_keyprefix`` keep kombu's own path. Celery
selects this transport with ``broker_transport = "workers.reliable_redis:Transport"`` and a plain
``redis://`` URL.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from importlib.resources import files
from time import monotonic
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

logger = logging.getLogger(__name__)

BLOCK_ON_MANY_KEYS_S = 1.0
"""With several lists to watch, block on the first for at most this long, then claim from any."""


@cache
def claim_script_source() -> str:
    """The Lua script that pops a message and records it as unacknowledged in one step."""
    return (files("workers") / "lua" / "claim_message.lua").read_text()


def refresh_interval_s(visibility_timeout_s: float) -> float:
    """How often a worker refreshes the messages it holds: three times per visibility timeout."""
    return max(0.1, visibility_timeout_s / 3)


class QoS(kombu_redis.QoS):
    """kombu's QoS without the second write of a message the claim script already recorded.

    kombu records a delivered message in the unacked hash and index (``QoS.append``, one
    pipelined round trip in the worker's event loop) after fetching it. A message taken by
    :meth:`Channel._claim` is in both already, with the same entry, so only the in-memory
    bookkeeping is left to do; any other message (kombu's own fetch path) is recorded as usual.
    """

    def append(self, message: Any, delivery_tag: str) -> None:
        claimed: set[str] = self.channel._claimed_tags
        if delivery_tag in claimed:
            claimed.discard(delivery_tag)
            kombu_redis.virtual.QoS.append(self, message, delivery_tag)
            return
        super().append(message, delivery_tag)


class Channel(kombu_redis.Channel):
    """A Redis channel whose consumers take messages atomically into the unacked hash."""

    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.global_keyprefix:
            raise ValueError("workers.reliable_redis does not support global_keyprefix")
        self._noack_queues: set[str] = set()
        self._claimed_tags: set[str] = set()
        """Delivery tags the claim script recorded and :class:`QoS` has yet to append."""
        self._claim_keys: list[str] | None = None
        self._claim_script: Any = None

    def close(self) -> None:
        """kombu's close, completed even when the broker has dropped the connection.

        kombu's close first reads the reply of a pending blocking fetch. On a connection the
        broker dropped, that read raises and the close stops before the channel is marked
        closed, while the connection around it is torn down (Celery 5.7 collects the
        connection, then closes it). The second close of the half-closed channel then finds no
        connection info and raises AttributeError, which Celery takes as unrecoverable: the
        worker exits. A read that fails here fetched nothing, so the close goes on; the
        messages this worker held stay in the unacked hash, and the visibility sweep returns
        them if this close cannot.
        """
        if self._in_poll:
            try:
                self._brpop_read()
            except (kombu_redis.Empty, *self.connection_errors):
                pass
        super().close()

    # Which queues may take the reliable path.

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._noack_queues.add(queue)
        else:
            self._noack_queues.discard(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            # Claimed into the unacked hash by _get, but no ack will ever come: forget it.
            self._claimed_tags.discard(message.delivery_tag)
            self.qos._remove_from_indices(message.delivery_tag).execute()
        return message

    def _keys_for(self, queues: list[str]) -> list[str]:
        return [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]

    # The claim.

    def _claim(self, client: Any, keys: list[str]) -> tuple[str, dict[str, Any]] | None:
        """Pop the next message from ``keys``, recorded as unacked; ``None`` if all are empty.

        Returns the list it came from and the decoded message; a message the script recorded
        is remembered so that :class:`QoS` does not write it a second time.
        """
        if self._claim_script is None:
            self._claim_script = client.register_script(claim_script_source())
        found = self._claim_script(
            keys=[*keys, self.unacked_key, self.unacked_index_key],
            args=[time.time()],
            client=client,
        )
        if not found:
            return None
        key, raw, recorded = found
        message = loads(bytes_to_str(raw))
        if recorded:
            self._claimed_tags.add(message["properties"]["delivery_tag"])
        return bytes_to_str(key), message

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        if queue in self._noack_queues:
            return super()._get(queue)
        with self.conn_or_acquire() as client:
            claimed = self._claim(client, self._keys_for([queue]))
            self._maybe_update_queues_expire(client, queue)
        if claimed is None:
            raise kombu_redis.Empty()
        return claimed[1]

    def held_tags(self) -> list[str]:
        """Delivery tags of the messages this channel delivered and has not acknowledged."""
        qos = self.qos
        return [tag for tag in list(qos._delivered) if tag not in qos._dirty]

    def refresh_visibility(self) -> int:
        """Mark the messages this channel holds as seen now; return how many were refreshed."""
        tags = self.held_tags()
        if not tags:
            return 0
        now = time.time()
        with self.conn_or_acquire() as client:
            client.zadd(self.unacked_index_key, dict.fromkeys(tags, now), xx=True)
        return len(tags)

    # The event loop's blocking fetch: wait with BLMOVE, take with the claim script.

    def _brpop_start(self, timeout: float | None = None) -> None:
        if timeout is None:
            timeout = self.brpop_timeout
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        if any(queue in self._noack_queues for queue in queues):
            self._claim_keys = None
            super()._brpop_start(timeout)
            return
        keys = self._keys_for(queues)
        wait = timeout or 0
        if len(keys) > 1:
            wait = min(wait, BLOCK_ON_MANY_KEYS_S) if wait else BLOCK_ON_MANY_KEYS_S
        self._claim_keys = keys
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()  # type: ignore[assignment]  # kombu's hint is None
        self.client.connection.send_command("BLMOVE", keys[0], keys[0], "RIGHT", "RIGHT", wait)

    def _brpop_read(self, **options: Any) -> bool:
        keys = self._claim_keys
        if keys is None:
            return bool(super()._brpop_read(**options))
        try:
            try:
                self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            # Whatever the look saw, take whatever is next now (another consumer may have won it).
            with self.conn_or_acquire() as client:
                claimed = self._claim(client, keys)
            if claimed is None:
                raise kombu_redis.Empty()
            key, message = claimed
            queue = key.rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            self.connection._deliver(message, queue)
            return True
        finally:
            self._claim_keys = None
            self._in_poll = None  # type: ignore[assignment]  # kombu's hint is bool
            flush = getattr(self, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`, refreshing held messages' visibility."""

    Channel = Channel

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        super().register_with_event_loop(connection, loop)
        cycle: Any = self.cycle  # a MultiChannelPoller (kombu hints a FairCycle)
        old = getattr(cycle, "_visibility_refresh_tref", None)
        if old is not None:
            old.cancel()
        timeout = float(
            connection.client.transport_options.get(
                "visibility_timeout", Channel.visibility_timeout
            )
        )
        cycle._visibility_refresh_tref = loop.call_repeatedly(
            refresh_interval_s(timeout), self.refresh_visibility
        )

    def refresh_visibility(self) -> None:
        """Refresh every channel's held messages (a failed refresh is retried next tick)."""
        cycle: Any = self.cycle
        for channel in list(cycle._channels):
            try:
                channel.refresh_visibility()
            except self.connection_errors as exc:
                logger.warning("could not refresh the visibility of held messages: %s", exc)
