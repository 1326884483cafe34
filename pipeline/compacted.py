"""The latest value of each key on a compacted topic, read to its end within a time bound.

What the DPO's and the key custodian's commands read (changelogs for ``rights export``, the
subject keys for ``keys decrypt``): no consumer group, no commit, a deleted key is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import TopicPartition

from pipeline.errors import PipelineError
from pipeline.kafka import make_consumer
from pipeline.settings import Settings


def latest(settings: Settings, topic: str, partitions: Iterable[int] | None,
           match: Callable[[bytes], bool], timeout_s: float,
           too_slow: type[PipelineError]) -> dict[bytes, bytes]:
    """The last value of every key ``match`` accepts on ``partitions`` (None: all) of ``topic``.

    Raises:
        too_slow: the partitions were not read to their end within ``timeout_s``.
    """
    consumer = make_consumer(settings, enable_auto_commit=False, group_id=None)
    try:
        present = consumer.partitions_for_topic(topic) or set()
        wanted = present if partitions is None else present & set(partitions)
        tps = [TopicPartition(topic, p) for p in sorted(wanted)]
        if not tps:
            return {}
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        consumer.seek_to_beginning(*tps)
        return _drain(consumer, tps, ends, match, time.monotonic() + timeout_s,
                      lambda: too_slow(f"reading {topic} took over {timeout_s:.0f} s; retry"))
    finally:
        consumer.close()


def _drain(consumer: Any, tps: list[TopicPartition], ends: dict[TopicPartition, int],
           match: Callable[[bytes], bool], deadline: float,
           too_slow: Callable[[], PipelineError]) -> dict[bytes, bytes]:
    values: dict[bytes, bytes] = {}
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise too_slow()
        for batch in consumer.poll(timeout_ms=1000).values():
            for r in batch:
                if r.key is None or not match(r.key):
                    continue
                if r.value is None:
                    values.pop(r.key, None)
                else:
                    values[r.key] = r.value
    return values
