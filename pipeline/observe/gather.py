"""Gather what ``status`` reports: group offsets and members, sink positions, the publication.

Every wait is bounded: Kafka requests (5 s), each metrics endpoint (1 s). The sink keeps its
offsets in its DuckDB file, which a running sink holds locked: its positions are read from
its metrics endpoint, and from the file (read-only) only when no sink answers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from pipeline import topics
from pipeline.kafka import make_admin, make_consumer
from pipeline.observe import scrape
from pipeline.observe.exceptions import StatusError
from pipeline.observe.ports import parse_client_id, sink_port
from pipeline.observe.status import Member, PartitionLag, Publication, StageLag, Status
from pipeline.settings import Settings
from pipeline.sink.config import ShardSpec, SinkConfig

_REQUEST_MS = 5000
_BOOTSTRAP_S = 10.0
_RETRY_S = 5.0
T = TypeVar("T")
Positions = dict[tuple[str, int], int]


def worker_group(settings: Settings) -> str:
    """The worker group id (the faust app id of :mod:`processors.worker.app`)."""
    return f"{settings.topic_prefix}privacy-pipeline"


def input_topics(settings: Settings) -> list[str]:
    """The worker's input topics, prefixed."""
    return [settings.topic_prefix + t for t in (topics.NAVIGATION, topics.GEOLOCATION,
                                                 topics.CONSENT)]


def gather(settings: Settings, sink: SinkConfig) -> Status:
    """Status of the pipeline named by ``settings`` (its prefix, data dir, sink shards).

    Raises:
        BrokerUnavailable: no broker answered within 10 s.
        StatusError: a topic is missing or the broker refused a request.
    """
    bounded = dataclasses.replace(settings, broker_wait_s=min(settings.broker_wait_s,
                                                              _BOOTSTRAP_S))
    admin = make_admin(bounded, request_timeout_ms=_REQUEST_MS)
    consumer = make_consumer(bounded, group_id=None, request_timeout_ms=_REQUEST_MS,
                             client_id="privacy-pipeline-status")
    try:
        group = worker_group(settings)
        inputs = input_topics(settings)
        worker = _retrying(lambda: _worker_stage(admin, consumer, group, inputs))
        state, members = _retrying(lambda: _members(admin, group, set(inputs)))
        sinks = tuple(_sink_stage(consumer, settings, sink, i) for i in range(sink.shard.count))
    except KafkaError as exc:
        raise StatusError(f"the broker refused a status request ({type(exc).__name__})") from None
    finally:
        consumer.close(autocommit=False)
        admin.close()
    return Status(group, state, (worker, *sinks), members, _publication(sink.analytics_path))


def _retrying(call: Callable[[], T]) -> T:
    """``call()``, retried on retriable Kafka errors for at most ``_RETRY_S`` seconds (a fresh
    broker answers CoordinatorNotAvailable until it created its offsets topic)."""
    deadline = time.monotonic() + _RETRY_S
    while True:
        try:
            return call()
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def _lags(consumer: KafkaConsumer, names: Iterable[str], positions: Positions,
          owns: Any = None) -> tuple[PartitionLag, ...]:
    tps = []
    for topic in names:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise StatusError(f"topic {topic} does not exist: run `privacy-pipeline topics`")
        tps += [TopicPartition(topic, p) for p in sorted(partitions) if owns is None or owns(p)]
    ends = consumer.end_offsets(tps)
    starts = consumer.beginning_offsets(tps)
    return tuple(
        PartitionLag(tp.topic, tp.partition, positions.get((tp.topic, tp.partition)),
                     int(starts[tp]), int(ends[tp]))
        for tp in tps
    )


def _worker_stage(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str,
                  inputs: list[str]) -> StageLag:
    committed = admin.list_group_offsets({group: None}).get(group, {})
    positions = {(tp.topic, tp.partition): int(meta.offset) for tp, meta in committed.items()
                 if meta.offset >= 0}
    return StageLag("worker", "group offsets", _lags(consumer, inputs, positions))


def _members(admin: KafkaAdminClient, group: str,
             inputs: set[str]) -> tuple[str, tuple[Member, ...]]:
    found = admin.describe_groups([group]).get(group, {})
    members = []
    for m in found.get("members") or []:
        parsed = parse_client_id(str(m.get("client_id", "")))
        if parsed is None:
            continue
        worker_id, port = parsed
        host = str(m.get("client_host", "")).lstrip("/")
        assignment = m.get("member_assignment") or {}
        owned = sum(len(a["partitions"]) for a in assignment.get("assigned_partitions", [])
                    if a["topic"] in inputs) if isinstance(assignment, dict) else 0
        url = f"http://{host}:{port}/metrics" if port else None
        held = _held(host, port, group) if port else None
        members.append(Member(worker_id, host, owned, url, held))
    members.sort(key=lambda m: (m.worker_id, m.host))
    return str(found.get("group_state") or "Dead"), tuple(members)


def _held(host: str, port: int, group: str) -> int | None:
    """The held-event gauge of the worker at ``host:port``, if that worker is of ``group``."""
    samples = scrape.fetch(host, port)
    if samples is None:
        return None
    if not any(labels.get("group") == group for labels, _ in scrape.values(samples, "worker_info")):
        return None  # another program, or a worker of another pipeline, holds that port
    held = scrape.values(samples, "worker_held_events")
    return int(held[0][1]) if held else None


def _sink_stage(consumer: KafkaConsumer, settings: Settings, sink: SinkConfig,
                index: int) -> StageLag:
    shard = ShardSpec(index, sink.shard.count)
    name = f"sink {shard}"
    names = sink.topics.all()
    positions = _sink_metrics_positions(settings, shard, sink.topics.decisions)
    source = "sink metrics"
    if positions is None:
        source, positions = _sink_db_positions(sink.data_dir / shard.db_name)
        if positions is None:
            return StageLag(name, source, known=False)
    return StageLag(name, source, _lags(consumer, names, positions, shard.owns))


def _sink_metrics_positions(settings: Settings, shard: ShardSpec,
                            decisions: str) -> Positions | None:
    port = sink_port(settings, shard.index)
    if not port:
        return None
    host = settings.metrics_host if settings.metrics_host not in ("", "0.0.0.0", "::") \
        else "127.0.0.1"  # noqa: S104 (compared, not bound)
    samples = scrape.fetch(host, port)
    if samples is None:
        return None
    info = scrape.values(samples, "sink_info")
    if not any(lb.get("shard") == str(shard) and lb.get("decisions") == decisions
               for lb, _ in info):
        return None  # not this pipeline's sink shard
    return {(lb["topic"], int(lb["partition"])): int(v)
            for lb, v in scrape.values(samples, "sink_offset")}


def _sink_db_positions(path: Path) -> tuple[str, Positions | None]:
    from pipeline.sink.schema import open_state_readonly, read_offsets

    if not path.exists():
        return "no sink state yet", {}
    try:
        conn = open_state_readonly(path)
    except duckdb.IOException:
        return "sink running, its metrics unreachable", None
    try:
        return "sink database", read_offsets(conn)
    finally:
        conn.close()


def _publication(path: Path) -> Publication:
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return Publication(str(path), None, None)
    return Publication(str(path), datetime.fromtimestamp(mtime, UTC),
                       max(0.0, time.time() - mtime))
