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

from processors.worker.failures import classify

ACK_TIMEOUT_S = 25.0
"""Longest wait for the table writes of one barrier: well under faust's 60 s rebalance timeout,
which a revocation waiting for the batch must not exceed (a slow broker: the batch retries)."""


class TrackedTable(faust.Table[Any, Any]):
    """A faust table that keeps the future of each changelog write until Kafka acknowledged it.

    faust's ``on_key_set`` and ``on_key_del`` (``table[key] = v``, ``del table[key]``) both
    send through the public :meth:`send_changelog`, overridden here. A barrier waits for every
    write not yet acknowledged, whoever made it (a batch and a timer tick share the tables):
    nobody takes another's writes.
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

    def unacknowledged(self) -> list[Any]:
        """The writes not acknowledged yet: pending or refused (acknowledged ones forgotten)."""
        kept = [f for f in self._sent or () if not f.done() or _error_of(f) is not None]
        self._sent = kept
        return list(kept)

    def forget(self, futures: set[Any]) -> None:
        """Stop tracking ``futures`` (refusals the caller handles by writing the state again)."""
        self._sent = [f for f in self._sent or () if f not in futures]


def refused(futures: list[Any]) -> set[Any]:
    """The futures of ``futures`` Kafka refused (or that were cancelled)."""
    return {f for f in futures if f.done() and _error_of(f) is not None}


def _error_of(fut: Any) -> BaseException | None:
    """A done write's refusal (None: acknowledged); a cancelled write counts as refused."""
    if fut.cancelled():
        return TimeoutError("a table write was cancelled before Kafka acknowledged it")
    exc: BaseException | None = fut.exception()  # retrieved: no "never retrieved" warning
    return exc


async def acknowledged(futures: list[Any], timeout: float = ACK_TIMEOUT_S) -> None:
    """Return once Kafka acknowledged every write of ``futures``.

    Never cancels them (``asyncio.wait``, not ``gather``): faust completes each future from
    the producer's callback, which fails on a cancelled one. A refusal wins over a timeout,
    and a permanent refusal over a transient one (the batch is then isolated, not retried).

    Raises:
        TimeoutError: none refused, some not acknowledged within ``timeout`` (transient).
        Exception: a refusal Kafka sent for one of them.
    """
    if not futures:
        return
    _, pending = await asyncio.wait(futures, timeout=timeout)
    errors = [_error_of(f) for f in futures if f.done()]
    found = [e for e in errors if e is not None]
    if found:
        raise next((e for e in found if classify(e) == "permanent"), found[0])
    if pending:
        raise TimeoutError(f"{len(pending)} table writes not acknowledged in {timeout:.0f} s")
