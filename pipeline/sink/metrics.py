"""Prometheus metrics of one sink process (its own registry, served by pipeline.observe).

Labels are topic names and partition numbers only. ``sink_offset`` is the next offset the
shard's database holds per partition: ``status`` reads it to compute the lag of a running
sink, whose database it cannot open (DuckDB keeps a writer's file locked).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipeline.observe.server import Liveness

_BATCH_SIZES = (1, 10, 100, 1000, 5000, 20000, 50000, 100000)
_SECONDS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: A sink whose loop did not go round for this long is unhealthy (a batch write is
#: seconds at most; a poll returns within half a second).
MAX_SILENCE_S = 60.0
#: Window over which ``sink_records_per_second`` is measured.
RATE_WINDOW_S = 10.0


class SinkMetrics:
    """Every metric of a sink shard, registered on ``self.registry``."""

    def __init__(self, shard: str, decisions: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
        shard: ``INDEX/COUNT``.
        decisions: the decisions topic it reads (names the pipeline: its prefix).
        clock: monotonic clock of the rate window.
        """
        r = self.registry = CollectorRegistry(auto_describe=True)
        info = Gauge("sink_info", "1, labelled with the shard and the decisions topic.",
                     ["shard", "decisions"], registry=r)
        info.labels(shard, decisions).set(1)
        self.records = Counter("sink_records", "Records committed to DuckDB (with duplicates).",
                               registry=r)
        self.new_records = Counter("sink_new_records", "Records committed that were new.",
                                   registry=r)
        self.duplicates = Counter("sink_duplicates", "Records skipped as already counted.",
                                  registry=r)
        self.rejected = Counter("sink_rejected", "Records rejected (leak scan, decoding).",
                                registry=r)
        self.batch_records = Histogram("sink_batch_records", "Records per committed batch.",
                                       buckets=_BATCH_SIZES, registry=r)
        self.rate = Gauge("sink_records_per_second",
                          f"Records committed per second over the last {RATE_WINDOW_S:.0f} s.",
                          registry=r)
        self.publications = Counter("sink_publications", "Publications of analytics.duckdb.",
                                    registry=r)
        self.publish_seconds = Histogram("sink_publish_seconds", "Time to publish once.",
                                         buckets=_SECONDS, registry=r)
        self.published_at = Gauge("sink_last_publication_timestamp_seconds",
                                  "Unix time of the last publication (0: none yet).", registry=r)
        age = Gauge("sink_publication_age_seconds", "Seconds since the last publication "
                    "(-1: none yet by this process).", registry=r)
        age.set_function(self._age)
        self.offset = Gauge("sink_offset", "Next offset held by the shard's database.",
                            ["topic", "partition"], registry=r)
        self.lag = Gauge("sink_consumer_lag", "Records between the database's offsets and the "
                         "partition's end.", ["topic", "partition"], registry=r)
        self.liveness = Liveness(MAX_SILENCE_S)
        self._clock = clock
        self._published: float | None = None
        self._window: tuple[float, int] = (clock(), 0)

    def _age(self) -> float:
        at = self._published
        return -1.0 if at is None else max(0.0, time.time() - at)

    def committed(self, records: int, new: int, duplicates: int, rejected: int,
                  next_offsets: Mapping[tuple[str, int], int]) -> None:
        """One batch committed with its offsets."""
        self.records.inc(records)
        self.new_records.inc(new)
        self.duplicates.inc(duplicates)
        self.rejected.inc(rejected)
        self.batch_records.observe(records)
        self.set_offsets(next_offsets)
        started, count = self._window
        self._window = (started, count + records)
        self.tick()

    def set_offsets(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        """Next offsets the shard's database holds now."""
        for (topic, partition), offset in next_offsets.items():
            self.offset.labels(topic, str(partition)).set(offset)

    def tick(self) -> None:
        """Close the rate window once it is long enough (called every loop)."""
        started, count = self._window
        now = self._clock()
        if now - started >= RATE_WINDOW_S:
            self.rate.set(count / (now - started))
            self._window = (now, 0)

    def published(self, seconds: float) -> None:
        """A publication of analytics.duckdb completed."""
        self.publications.inc()
        self.publish_seconds.observe(seconds)
        self._published = time.time()
        self.published_at.set(self._published)

    def set_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Lag of every assigned partition (and only those)."""
        self.lag.clear()
        for (topic, partition), value in lags.items():
            self.lag.labels(topic, str(partition)).set(value)
