"""Table writes counted as durable once Kafka acknowledged them, and not before.

A faust table write goes to the local store and, through faust's producer buffer, to the
table's changelog. Two faust behaviours make ``app.producer.flush()`` too weak a barrier
before the group commits the batch that made the writes:

- ``ProducerBuffer.flush()`` waits at most 0.1 s for each buffered message to be handed to
  aiokafka and then returns, sent or not; aiokafka holds a send while the partition's
  previous batch is in flight, which under load takes longer.
- a changelog write Kafka refuses is logged by ``Topic._on_published`` and dropped: the
  future of the write gets the error, nobody awaits it.

Either way a kill -9 after the commit would lose consent state (or a subject key) of
records the group counts as handled. :class:`TrackedTable` keeps the future of every
changelog write; :func:`acknowledged` waits for them and raises a refusal, so the batch is
retried (transient) or isolated (permanent) like any output Kafka refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

ACK_TIMEOUT_S = 120.0
"""Longest wait for one batch's table writes (a broker away for longer: the batch retries)."""


class TrackedTable(faust.Table[Any, Any]):
    """A faust table that keeps the future of each changelog write until :meth:`take_sent`.

    faust's ``on_key_set`` and ``on_key_del`` (``table[key] = v``, ``del table[key]``) both
    send through the public :meth:`send_changelog`, overridden here.
    """

    _sent: list[Any] | None = None

    def send_changelog(self, partition: int | None, key: Any, value: Any,
                       key_serializer: Any = None, value_serializer: Any = None) -> Any:
        """faust's changelog send; the future it returns is also kept."""
        fut = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        if self._sent is None:
            self._sent = []
        self._sent.append(fut)
        return fut

    def take_sent(self) -> list[Any]:
        """The futures of the writes since the last call (forgotten here)."""
        sent, self._sent = self._sent or [], []
        return sent


async def acknowledged(futures: list[Any], timeout: float = ACK_TIMEOUT_S) -> None:
    """Return once Kafka acknowledged every write of ``futures``.

    Never cancels them (``asyncio.wait``, not ``gather``): faust completes each future from
    the producer's callback, which fails on a cancelled one.

    Raises:
        TimeoutError: some not acknowledged within ``timeout`` (transient: retried).
        Exception: the first refusal Kafka sent for one of them.
    """
    if not futures:
        return
    done, pending = await asyncio.wait(futures, timeout=timeout)
    if pending:
        raise TimeoutError(f"{len(pending)} table writes not acknowledged in {timeout:.0f} s")
    for fut in done:
        if fut.cancelled():
            raise TimeoutError("a table write was cancelled before Kafka acknowledged it")
        exc = fut.exception()
        if exc is not None:
            raise exc
