"""Read an output topic of a test run to its end now: every partition, bounded in time."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import TopicPartition

from tests.integration.pipeline_harness import PipelineEnv


def read_values(env: PipelineEnv, name: str, timeout_s: float = 60.0) -> list[bytes]:
    """Every message value of the prefixed topic ``name``, from the beginning to its end now."""
    consumer = env.consumer()
    try:
        topic = env.topic(name)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend(r.value for r in batch)
        return out
    finally:
        consumer.close()


def decode(values: list[bytes]) -> list[dict[str, Any]]:
    """The records of JSON messages; a batch envelope (``records``) gives each of its own."""
    out: list[dict[str, Any]] = []
    for value in values:
        decoded = json.loads(value)
        out.extend(decoded.get("records", [decoded]))
    return out


def read_records(env: PipelineEnv, name: str) -> list[dict[str, Any]]:
    """Every record of the prefixed topic ``name`` up to its end now."""
    return decode(read_values(env, name))
