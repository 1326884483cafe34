"""Prometheus metrics of one worker process (its own registry, served by pipeline.observe).

Labels are small fixed sets: streams, the policy's purposes, outcomes, topic names and
partition numbers. Never a user id, an event id or anything read from an event's value.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipeline.observe.server import Liveness

_BATCH_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_EFFECT_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: A worker whose timers did not go round for this long is reported unhealthy.
MAX_SILENCE_S = 15.0
#: ... and one the broker did not answer for this long (it is asked every 5 s).
KAFKA_SILENCE_S = 30.0


class WorkerMetrics:
    """Every metric of a worker, registered on ``self.registry``."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.info = Gauge("worker_info", "1, labelled with the worker's id and consumer group.",
                          ["worker_id", "group"], registry=r)
        self.decisions = Counter("worker_decisions", "Decisions by stream, purpose and outcome.",
                                 ["stream", "purpose", "outcome"], registry=r)
        self.batch_records = Histogram("worker_batch_records", "Input records per batch.",
                                       buckets=_BATCH_SIZES, registry=r)
        self.batch_seconds = Histogram("worker_batch_seconds", "Time to decide one batch.",
                                       buckets=_SECONDS, registry=r)
        self.consent_effect_seconds = Histogram(
            "worker_consent_effect_seconds",
            "From a consent record's Kafka timestamp to the end of the batch that applied it.",
            buckets=_EFFECT_SECONDS, registry=r)
        self.held = Gauge("worker_held_events",
                          "Events held in the grace window (no consent answer yet).", registry=r)
        self.fence_reads = Counter(
            "worker_fence_reads",
            "Requests of the consent/erasure fences: end offsets, committed offsets, records "
            "read directly.", ["kind"], registry=r)
        self.fence_records = Counter("worker_fence_records",
                                     "Records the fences read directly (not via the stream).",
                                     registry=r)
        self.lag = Gauge("worker_consumer_lag",
                         "Records not yet decided per assigned input partition (last known end).",
                         ["topic", "partition"], registry=r)
        self.liveness = Liveness(MAX_SILENCE_S, kafka_max_s=KAFKA_SILENCE_S)
        self._tally: Tally[tuple[str, str, str]] = Tally()

    def tally(self, counts: Tally[tuple[str, str, str]]) -> None:
        """Add what the engine decided since the last call (its ``counts`` only grow)."""
        for key, total in counts.items():
            seen = self._tally.get(key, 0)
            if total < seen:  # the engine's tally restarted: count it from zero
                seen = 0
            if total > seen:
                self.decisions.labels(*key).inc(total - seen)
            self._tally[key] = total

    def batch(self, records: int, seconds: float, consent_timestamps: Iterable[float]) -> None:
        """One decided batch: its size, its duration, the consent records it applied."""
        self.batch_records.observe(records)
        self.batch_seconds.observe(seconds)
        now = time.time()
        for ts in consent_timestamps:
            self.consent_effect_seconds.observe(max(0.0, now - ts))

    async def refresh_lag(
        self,
        ends: Mapping[tuple[str, int], int],
        handled: Callable[[str, int], Awaitable[int]],
    ) -> None:
        """Set the lag gauge of every assigned partition (the keys of ``ends``), only those."""
        values: dict[tuple[str, str], float] = {}
        for (topic, partition), end in ends.items():
            values[(topic, str(partition))] = max(0, end - await handled(topic, partition))
        self.lag.clear()
        for labels, value in values.items():
            self.lag.labels(*labels).set(value)
