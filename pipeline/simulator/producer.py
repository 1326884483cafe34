"""Produce simulated traffic to Kafka, batch by batch, waiting for acknowledgements in between.

The producer is kafka-python's idempotent producer (``pipeline.kafka.make_producer``); keys are
user ids so a user's events and consent land on the same partition number of the
co-partitioned input topics. Flushing between batches is what makes the ground truth exact:
consent messages of a chunk are acknowledged before its navigation/geolocation messages are sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from kafka.errors import KafkaError

from pipeline.simulator.envelopes import Packed, pack
from pipeline.simulator.exceptions import ProduceError, SimulatorError
from pipeline.simulator.traffic import Traffic

ProgressHook = Callable[[int], None]
_PROGRESS_EVERY = 50


class Throttle:
    """Keeps an average rate of at most ``rate`` messages per second (None: no limit)."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise SimulatorError(
                f"--rate must be a positive number of events per second, got {rate}"
            )
        self._rate, self._clock, self._sleep = rate, clock, sleep
        self._start: float | None = None
        self._count = 0

    def wait(self) -> None:
        """Call before each message: sleeps until sending it keeps the average rate."""
        if self._rate is None:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._count / self._rate
        self._count += 1
        if due > now:
            self._sleep(due - now)


def _unacknowledged(futures: list[Any]) -> ProduceError | None:
    failed = [f for f in futures if not f.is_done or f.failed()]
    if not failed:
        return None
    first = failed[0].exception if failed[0].is_done else None
    cause = type(first).__name__ if first is not None else "no answer"
    return ProduceError(
        f"{len(failed)} of {len(futures)} messages were not acknowledged by Kafka ({cause}); "
        "check that the broker runs and the topics exist (`privacy-pipeline topics`)"
    )


def _send_batch(
    producer: Any,
    batch: list[Packed],
    names: Mapping[str, str],
    throttle: Throttle,
    progress: ProgressHook | None,
) -> list[Any]:
    futures = []
    unreported = 0
    for packed in batch:
        msg = packed.message
        for _ in range(packed.events):  # the rate is in events
            throttle.wait()
        futures.append(
            producer.send(
                names[msg.topic], value=msg.value, key=msg.key, timestamp_ms=msg.timestamp_ms
            )
        )
        unreported += packed.events
        if progress is not None and unreported >= _PROGRESS_EVERY:
            progress(unreported)
            unreported = 0
    if progress is not None and unreported:
        progress(unreported)
    return futures


def produce(
    traffic: Traffic,
    producer: Any,
    *,
    topics: Mapping[str, str] | None = None,
    rate: float | None = None,
    progress: ProgressHook | None = None,
    flush_timeout_s: float = 60.0,
    envelopes: bool = True,
) -> dict[str, int]:
    """Send ``traffic`` in production order; every batch is acknowledged before the next.

    Args:
        traffic: What :func:`pipeline.simulator.traffic.generate` returned.
        producer: A ``kafka.KafkaProducer`` (idempotent, bytes keys and values).
        topics: Contract topic name -> topic to write to (tests use uuid-named topics).
        rate: Average events per second at most; None sends as fast as Kafka takes them.
        progress: Called with the number of events just sent (for a progress bar).
        flush_timeout_s: Bound on the wait for one batch's acknowledgements.
        envelopes: Send a user's events of one batch and topic as one envelope, as the
            collector does (:mod:`pipeline.simulator.envelopes`); False: one message each.

    Returns:
        Events sent per contract topic name (whatever messages carried them).

    Raises:
        ProduceError: Kafka did not acknowledge a batch within ``flush_timeout_s``.
    """
    names = {msg.topic: msg.topic for msg in traffic.messages} | dict(topics or {})
    throttle = Throttle(rate)
    sent: Counter[str] = Counter()
    for batch in traffic.batches():
        try:
            packed = pack(batch) if envelopes else [Packed(m, 1) for m in batch]
            futures = _send_batch(producer, packed, names, throttle, progress)
            producer.flush(timeout=flush_timeout_s)
        except KafkaError as exc:
            raise ProduceError(
                f"Kafka refused simulated messages ({type(exc).__name__}); check that the broker "
                "runs and the topics exist (`privacy-pipeline topics`)"
            ) from None
        error = _unacknowledged(futures)
        if error is not None:
            raise error
        sent.update(msg.topic for msg in batch)
    return dict(sorted(sent.items()))
