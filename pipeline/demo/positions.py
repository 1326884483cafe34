"""Where the workers and the sink stand, from Kafka's offsets and the sink's database."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

from pipeline import topics
from pipeline.policy import Policy
from pipeline.settings import Settings

INPUTS = (topics.NAVIGATION, topics.GEOLOCATION, topics.CONSENT)


def worker_group(settings: Settings) -> str:
    """The consumer group of the faust workers (the app id :mod:`processors.worker.app` sets)."""
    return f"{settings.topic_prefix}privacy-pipeline"


def _partitions(names: list[str], count: int) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in names for p in range(count)]


def end_offsets(admin: Any, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The next offset to be written on each partition."""
    found = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts})
    return {tp: int(found[tp].offset) for tp in parts}


def worker_lag(admin: Any, settings: Settings) -> int | None:
    """Input messages the workers' group has not committed yet (all input partitions).

    The workers commit a batch's offsets only after its outputs are acknowledged, so no lag
    means every input message has its decisions and sanitized records in Kafka.

    Returns:
        The lag, or None while Kafka cannot tell yet (e.g. a broker just started has no
        group coordinator for a few seconds).
    """
    try:
        return _worker_lag(admin, settings)
    except KafkaError as exc:
        if getattr(exc, "retriable", False):
            return None
        raise


def _worker_lag(admin: Any, settings: Settings) -> int:
    parts = _partitions([settings.topic_prefix + t for t in INPUTS], settings.partitions)
    group = worker_group(settings)
    committed = admin.list_group_offsets({group: parts}).get(group, {})
    ends = end_offsets(admin, parts)
    done = {tp: max(0, int(committed[tp].offset)) if tp in committed else 0 for tp in parts}
    return sum(max(0, ends[tp] - done[tp]) for tp in parts)


def sink_lag(admin: Any, settings: Settings, policy: Policy) -> int:
    """Messages of the sink's topics beyond the offsets its database holds.

    Reads ``pipeline.duckdb``, which a running sink keeps locked: call it once the sink
    has exited.
    """
    from pipeline.sink.config import ShardSpec, sink_config
    from pipeline.sink.schema import open_state_readonly, read_offsets

    config = sink_config(settings, policy, ShardSpec(0, 1))
    stored: dict[tuple[str, int], int] = {}
    if config.db_path.exists():
        conn = open_state_readonly(config.db_path)
        try:
            stored = read_offsets(conn)
        finally:
            conn.close()
    ends = end_offsets(admin, _partitions(config.topics.all(), settings.partitions))
    return sum(max(0, end - stored.get((tp.topic, tp.partition), 0)) for tp, end in ends.items())
