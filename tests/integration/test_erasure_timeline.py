"""Erasure timeline on the real broker: Kafka removes a raw id within the computed bound.

With shortened per-topic settings (the test broker checks retention and runs its cleaner every
second, scripts/test.sh), a raw user id written on a delete-policy topic and on a compacted
topic (then tombstoned) disappears from every partition AND from the broker's log files, no
later than the bound :mod:`pipeline.erasure_timeline` computes from the configs the broker
reports. ``..._end_to_end`` runs the worker: after an erasure, no topic, changelog or worker
store file holds the raw id and ``rights status`` says complete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.partitioner.default import murmur2

from pipeline import erasure_status
from pipeline.broker import config as broker_config
from pipeline.erasure_timeline import Place, row
from pipeline.kafka import make_consumer
from pipeline.settings import Settings
from tests.integration.conftest import NewTopic
from tests.integration.pipeline_harness import PipelineEnv, pipeline_env, send_json

FAST = {"segment.ms": "500", "file.delete.delay.ms": "0",
        "message.timestamp.type": "LogAppendTime"}  # fmt: skip
FAST_COMPACT = {**FAST, "max.compaction.lag.ms": "1000", "delete.retention.ms": "1000",
                "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0"}  # fmt: skip
FAST_DELETE = {**FAST, "retention.ms": "1000"}
_WAIT_S = 60.0


def _log_dirs(settings: Settings) -> Path:
    root = broker_config.paths(settings).log_dirs
    assert root.is_dir(), f"the test broker's log dir {root} is missing: run scripts/test.sh"
    return root


def _on_broker(settings: Settings, topic: str, needle: bytes) -> int:
    """Records of ``topic`` (every partition, from the beginning) whose key or value holds it."""
    consumer = make_consumer(settings, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends, hits = consumer.end_offsets(parts), 0
        deadline = time.monotonic() + 20
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, f"reading {topic} took over 20 s"
            for records in consumer.poll(timeout_ms=500).values():
                hits += sum(needle in (r.key or b"") + (r.value or b"") for r in records)
        return hits
    finally:
        consumer.close()


def _holding(root: Path, needle: bytes, under: str = "") -> list[Path]:
    """Files below ``root`` (in top directories named ``under*``) whose bytes hold ``needle``.

    The broker and RocksDB delete files and whole directories while this looks (other tests'
    topics too): ``os.walk`` skips a directory gone meanwhile, and so does this a file.
    """
    found = []
    for directory, _, files in os.walk(root):
        top = Path(directory).relative_to(root).parts
        if under and (not top or not top[0].startswith(under)):
            continue
        for name in files:
            path = Path(directory, name)
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:  # deleted while we looked: not there any more
                continue
    return found


def _files_with(root: Path, prefix: str, needle: bytes) -> list[str]:
    """Broker files (segments, .deleted, .cleaned, indexes) of topics named ``prefix*``."""
    return [f"{p.parent.name}/{p.name}" for p in _holding(root, needle, prefix)]


def _fill(producer: KafkaProducer, topics: Iterable[str], compacted: set[str],
          partition: int = 0) -> None:
    """Kafka closes a segment only on append: keep records (no raw id) arriving. On compacted
    topics a tombstone of a key nobody uses (harmless to any reader), elsewhere ``{}`` (an
    invalid event on an input topic: dead-lettered)."""
    for topic in topics:
        value = None if topic in compacted else b"{}"
        producer.send(topic, key=f"filler-{uuid.uuid4().hex}".encode(), value=value,
                      partition=partition)
    producer.flush()


def _timers(admin: KafkaAdminClient) -> Any:
    timers = erasure_status.read_timers(admin)
    assert timers.retention_check_ms <= 2000 and timers.cleaner_backoff_ms <= 2000, (
        "the test broker must check retention and compaction every second "
        "(PRIVACY_PIPELINE_BROKER_HOUSEKEEPING_MS=1000, set by scripts/test.sh)"
    )
    return timers


def test_kafka_removes_the_raw_id_within_the_computed_bound(
    settings: Settings, admin: KafkaAdminClient, new_topic: NewTopic, producer: KafkaProducer
) -> None:
    root, timers = _log_dirs(settings), _timers(admin)
    raw = f"erase-me-{uuid.uuid4().hex}".encode()
    events = new_topic(1, **{"cleanup.policy": "delete", **FAST_DELETE})
    states = new_topic(1, **{"cleanup.policy": "compact", **FAST_COMPACT})
    # Control: eager cleaning but Kafka's segment.ms (7 days) and no max.compaction.lag.ms.
    control = new_topic(1, **{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})
    body = json.dumps({"user_id": raw.decode(), "screen": "home"}).encode()
    producer.send(events, key=raw, value=body).get(timeout=30)
    producer.send(states, key=raw, value=body).get(timeout=30)
    producer.send(states, key=raw, value=None).get(timeout=30)  # the erasure's tombstone
    producer.send(control, key=raw, value=body).get(timeout=30)
    producer.send(control, key=raw, value=None).get(timeout=30)
    written = datetime.now(UTC)
    assert _on_broker(settings, events, raw) == 1 and _on_broker(settings, states, raw) == 2
    assert _files_with(root, events, raw) and _files_with(root, states, raw)  # the scan sees it

    deadline, left = time.monotonic() + _WAIT_S, ["not checked yet"]
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        _fill(producer, (events, states, control), {states, control})
        left = [t for t in (events, states) if _on_broker(settings, t, raw)]
        left += _files_with(root, events, raw) + _files_with(root, states, raw)
    gone = datetime.now(UTC)
    assert not left, f"still holding the raw id after {_WAIT_S:.0f} s: {left}"
    # The control's segment never closed, so nothing of it was compacted: the bound needs both.
    assert _on_broker(settings, control, raw) == 2 and _files_with(root, control, raw)

    # The bound rights status computes from what the broker reports covers what happened
    # (5 s of slack: one poll round of this loop, and the cleaner's own run time under load).
    configs = erasure_status.read_configs(admin, [events, states])
    assert configs[states]["max.compaction.lag.ms"] == "1000"  # read, not assumed
    for topic in (events, states):
        bound = row(Place(topic, "raw", "test", configs[topic]), written, timers).gone_by
        assert bound is not None and gone <= bound + timedelta(seconds=5), (topic, gone, bound)
    assert row(Place(states, "raw", "t", configs[states]), written, timers).gone_by < (
        written + timedelta(seconds=30))


def test_topics_brings_an_existing_topic_in_line_and_keeps_other_overrides(
    admin: KafkaAdminClient, new_topic: NewTopic
) -> None:
    from pipeline.topics import TopicSpec, ensure_topics

    week = str(7 * 86_400_000)
    name = new_topic(2, **{"cleanup.policy": "delete", "retention.ms": week,
                           "max.message.bytes": "500000"})  # fmt: skip
    wanted = {"cleanup.policy": "delete", "retention.ms": "86400000", "segment.ms": "3600000"}
    result = ensure_topics(admin, [TopicSpec(name, 2, wanted)])
    assert result.altered == (name,) and result.created == ()
    configs = erasure_status.read_configs(admin, [name])[name]
    assert configs["retention.ms"] == "86400000" and configs["segment.ms"] == "3600000"
    kept = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                  ["max.message.bytes"])])["topic"][name]
    assert kept["max.message.bytes"]["value"] == "500000"
    assert ensure_topics(admin, [TopicSpec(name, 2, wanted)]).altered == ()  # idempotent


# -- end to end: worker erasure, then everything gone (needs the keyed-handle tables) --------

APP = {"name": "mm-mobile", "platform": "ios", "version": "4.1"}


def _event(schema: str, user: str, at: datetime, **body: Any) -> dict[str, Any]:
    return {"schema": schema, "event_id": f"e-{uuid.uuid4().hex}", "user_id": user,
            "occurred_at": at.isoformat(), **body}  # fmt: skip


def _shorten(admin: KafkaAdminClient, names: list[str]) -> set[str]:
    """The test's forced compaction: every topic of the pipeline gets second-long bounds;
    returns the compacted ones."""
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, ["cleanup.policy"]) for n in names],
        config_filter="all")["topic"]  # fmt: skip
    changes = []
    for name in names:
        compact = "compact" in described[name]["cleanup.policy"]["value"]
        changes.append(ConfigResource(ConfigResourceType.TOPIC, name,
                                      dict(FAST_COMPACT if compact else FAST_DELETE)))
    outcome = admin.alter_configs(changes)["topic"]
    assert set(outcome.values()) == {"OK"}, outcome
    return {n for n in names if "compact" in described[n]["cleanup.policy"]["value"]}


def _store_files_with(env: PipelineEnv, needle: bytes) -> list[str]:
    return [str(p.relative_to(env.data_dir)) for p in _holding(env.data_dir, needle, "worker-")]


def _status(env: PipelineEnv, user: str) -> tuple[int, str]:
    result = env.cli("rights", "status", "--user", user, "--format", "json", timeout=120)
    assert "Traceback" not in result.stderr and user not in result.stdout + result.stderr
    return result.returncode, result.stdout + result.stderr


def _start_worker(env: PipelineEnv) -> None:
    from pipeline.kafka import make_admin

    env.start("worker", "--id", "1", log_name="worker-1")
    names = {f"{env.prefix}privacy-pipeline-{t}-changelog" for t in ("consent", "erased")}
    admin = make_admin(env.settings)
    try:
        deadline = time.monotonic() + 90
        while not names <= set(admin.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        admin.close()
    time.sleep(3.0)  # the worker's producer refreshes its metadata


def _erase(env: PipelineEnv, user: str, other: str) -> None:
    now, producer = datetime.now(UTC), env.producer()
    everything = dict.fromkeys(("audience_measurement", "personalisation", "advertising",
                                "geolocation"), True)  # fmt: skip
    for who in (user, other):
        send_json(producer, env.topic("privacy.consent.v1"), [_event(
            "consent/1", who, now - timedelta(minutes=5), purposes=everything, source="banner")])
        send_json(producer, env.topic("app.navigation.v1"), [_event(
            "navigation/1", who, now - timedelta(minutes=4), app=APP, type="screen_view",
            screen="home")])
        send_json(producer, env.topic("app.geolocation.v1"), [_event(
            "geolocation/1", who, now - timedelta(minutes=4), app=APP, lat=48.85, lon=2.35)])
    producer.close()
    assert env.cli("rights", "request", "--user", user, "--right", "erasure").returncode == 0


@dataclasses.dataclass(frozen=True)
class Erased:
    """One pipeline with a worker, after the erasure of ``user`` (``other`` is kept)."""

    env: PipelineEnv
    user: str
    other: str


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Erased]:
    """The module's pipeline: ``rights status`` first finds no erasure, then one."""
    user, other = f"erase-e2e-{uuid.uuid4().hex}", f"keep-e2e-{uuid.uuid4().hex}"
    with pipeline_env(tmp_path_factory.mktemp("erasure"), settings) as env:
        code, text = _status(env, user)
        assert code == 1 and "no erasure is recorded" in text, text
        assert len(text.strip().splitlines()) == 1
        _start_worker(env)
        _erase(env, user, other)
        deadline = time.monotonic() + 90
        while (code := _status(env, user)[0]) != 0 and time.monotonic() < deadline:
            time.sleep(1.0)
        assert code == 0, _status(env, user)[1]
        yield Erased(env, user, other)


def _rows(text: str) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return {r["place"]: r for r in rows}


def test_rights_status_computes_from_the_configs_the_broker_reports(
    erased: Erased, admin: KafkaAdminClient
) -> None:
    env = erased.env
    navigation = env.topic("app.navigation.v1")
    change = ConfigResource(ConfigResourceType.TOPIC, navigation, {"retention.ms": "7200000"})
    assert admin.alter_configs([change])["topic"][navigation] == "OK"
    code, text = _status(env, erased.user)
    assert code == 0, text
    rows, timers = _rows(text), _timers(admin)
    nav = rows[navigation]
    assert nav["holds"] == "raw" and nav["basis"].startswith("retention.ms 2 h + segment.ms 1 h")
    consent = rows[env.topic("privacy.consent.v1")]  # the policy's bounds, set by `topics`:
    assert "max.compaction.lag.ms 25 h" in consent["basis"]  # kept whole 24 h, then 1 h lag
    assert "delete.retention.ms 1 h" in consent["basis"]
    at = datetime.fromisoformat(text.split("erasure requested at ")[1][:19]).replace(tzinfo=UTC)
    check = timers.retention_check_ms / 1000  # input topics: broker timestamps, no skew
    expected = at + timedelta(seconds=2 * 3600 + 3600 + check + 60)
    assert "timestamp skew 0 s" in nav["basis"]
    assert abs(datetime.fromisoformat(nav["gone_by"]) - expected) <= timedelta(seconds=2)
    assert rows[env.topic("privacy-pipeline-rights_audit-changelog")]["holds"] == "proof"
    assert "erasure complete at" in text or "no bound" in text  # hours away, not complete


def test_erasure_timeline_end_to_end(
    erased: Erased, settings: Settings, admin: KafkaAdminClient
) -> None:
    """MUST RUN AFTER the keyed-handle tables (e1) and subject keys (s) are merged: today's
    worker keys its tables, hence its changelogs and RocksDB files, by the raw user id."""
    env, user = erased.env, erased.user
    root, _ = _log_dirs(settings), _timers(admin)
    raw = user.encode()
    assert _on_broker(settings, env.topic("app.navigation.v1"), raw) == 1  # the scan sees it
    mine = [t for t in admin.list_topics() if t.startswith(env.prefix)]
    compacted = _shorten(admin, mine)
    p = (murmur2(raw) & 0x7FFFFFFF) % env.settings.partitions
    producer = env.producer()
    deadline, left = time.monotonic() + 2 * _WAIT_S, ["not checked yet"]
    while left and time.monotonic() < deadline:
        time.sleep(1.0)
        _fill(producer, mine, compacted, p)
        left = [t for t in mine if _on_broker(settings, t, raw)]
        left += _files_with(root, env.prefix, raw) + _store_files_with(env, raw)
    producer.close()
    assert not left, f"the erased raw id is still in: {left}"
    # Every file of the broker (any topic, the metadata log) and of the worker, once more.
    assert not _files_with(root, "", raw) + _store_files_with(env, raw)
    code, text = _status(env, user)
    assert code == 0 and "erasure complete: no raw id or readable data left" in text, text
    rows = _rows(text)
    assert "max.compaction.lag.ms 1 s" in rows[env.topic("privacy.consent.v1")]["basis"]
    assert "retention.ms 1 s" in rows[env.topic("app.navigation.v1")]["basis"]
