"""Rights paths on the real broker: access/portability export before and after an erasure."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.bench.refs import DecisionRefs
from pipeline.settings import Settings
from tests.integration.pipeline_harness import PipelineEnv, collect, pipeline_env, send_json

APP = {"name": "mm-mobile", "platform": "ios", "version": "4.1"}
PURPOSES = ("audience_measurement", "personalisation", "advertising", "geolocation")


def _event(schema: str, event_id: str, user: str, at: datetime, **body: Any) -> dict[str, Any]:
    return {"schema": schema, "event_id": event_id, "user_id": user,
            "occurred_at": at.isoformat(), **body}  # fmt: skip


def _nav(event_id: str, user: str, at: datetime) -> dict[str, Any]:
    return _event("navigation/1", event_id, user, at, app=APP, type="screen_view", screen="home")


def _start_worker(env: PipelineEnv) -> None:
    """Start a worker and wait (bounded) until its table changelogs exist on the broker.

    A batch that arrives before the worker's producer knows the changelog topics makes the
    worker exit (to be restarted by its supervisor); this test has none, so it waits.
    """
    from pipeline.kafka import make_admin

    env.start("worker", "--id", "1", log_name="worker-1")
    names = {f"{env.prefix}privacy-pipeline-{t}-changelog"
             for t in ("consent", "held", "erased", "rights_audit")}  # fmt: skip
    admin = make_admin(env.settings)
    try:
        deadline = time.monotonic() + 90
        while not names <= set(admin.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert names <= set(admin.list_topics()), env.log_text("worker-1")[-3000:]
    finally:
        admin.close()
    time.sleep(3.0)  # the worker's producer refreshes its metadata


def _export(env: PipelineEnv, tmp: Path, user: str) -> dict[str, Any]:
    out = tmp / f"export-{time.monotonic_ns()}.json"
    result = env.cli("rights", "export", "--user", user, "--output", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and user not in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    data: dict[str, Any] = json.loads(out.read_text("utf-8"))
    assert data["format"] == "privacy-pipeline.export/1"
    return data


def _until(
    env: PipelineEnv, tmp: Path, user: str, ok: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    """Export until ``ok`` (the worker's changelog writes land at its commits), bounded."""
    deadline = time.monotonic() + timeout
    data = _export(env, tmp, user)
    while not ok(data) and time.monotonic() < deadline:
        time.sleep(1.0)
        data = _export(env, tmp, user)
    return data


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Any:
    """One pipeline and one worker for the module's tests (each uses its own users)."""
    with pipeline_env(tmp_path_factory.mktemp("rights"), settings) as e:
        _start_worker(e)
        yield e


def test_export_before_and_after_erasure(env: PipelineEnv, tmp_path: Path) -> None:
    user, waiting = "rights-user-1", "rights-user-2"
    now = datetime.now(UTC)
    producer = env.producer()
    grant = _event("consent/1", "c-1", user, now - timedelta(minutes=9),
                   purposes=dict.fromkeys(PURPOSES, True), source="banner")  # fmt: skip
    withdraw = _event("consent/1", "c-2", user, now - timedelta(minutes=8),
                      purposes={"advertising": False}, source="app_settings")  # fmt: skip
    send_json(producer, env.topic("privacy.consent.v1"), [grant, withdraw])
    send_json(
        producer, env.topic("app.navigation.v1"), [_nav("n-1", user, now - timedelta(minutes=7))]
    )
    # An access request, then an event of a second user that waits in the grace window.
    assert env.cli("rights", "request", "--user", user, "--right", "access").returncode == 0
    send_json(producer, env.topic("app.navigation.v1"), [_nav("n-2", waiting, now)])

    # The worker's state is observed through the export itself (no raw event id needed).
    before = _until(env, tmp_path, user, lambda d: len(d["rights_requests"]) == 1, 90)
    assert before["status"] == "active" and before["subject"] == {"user_id": user}
    consent = before["consent"]["purposes"]
    assert consent["audience_measurement"]["state"] == "granted"
    assert consent["advertising"]["state"] == "denied"
    assert [h["granted"] for h in consent["advertising"]["history"]] == [True, False]
    assert [r["right"] for r in before["rights_requests"]] == ["access"]
    assert before["rights_requests"][0]["outcome"] == "applied"
    assert before["erasure"] is None and before["held_events"]["count"] == 0
    held = _until(env, tmp_path, waiting, lambda d: d["held_events"]["count"] == 1, 20)
    assert held["held_events"]["events"][0]["stream"] == "navigation"
    assert held["consent"] is None

    result = env.cli("rights", "request", "--user", user, "--right", "erasure")
    assert result.returncode == 0, result.stderr
    after = _until(env, tmp_path, user, lambda d: d["status"] == "erased", 60)
    assert after["status"] == "erased", after
    assert after["consent"] is None and after["held_events"] == {"count": 0, "events": []}
    assert after["erasure"]["applied"] is True
    assert [r["right"] for r in after["rights_requests"]] == ["erasure"]
    # Only the erasure's audit record: no consent history, no purpose names from the state.
    text = json.dumps(after)
    assert "audience_measurement" not in text and "history" not in text
    producer.close()
    # The worker tombstoned the user's key on the consent topic (compaction drops the
    # records), and no changelog record names the erased user, in a key or a value.
    assert (user.encode(), None) in _records(env, env.topic("privacy.consent.v1"))
    for topic in _changelog_topics(env):
        assert not [r for r in _records(env, topic) if _names(r, user.encode())], topic


def _names(record: tuple[bytes | None, bytes | None], raw: bytes) -> bool:
    return any(raw in part for part in record if part is not None)


def _changelog_topics(env: PipelineEnv) -> list[str]:
    consumer = env.consumer()
    try:
        return [t for t in consumer.topics()
                if t.startswith(env.prefix) and t.endswith("-changelog")]  # fmt: skip
    finally:
        consumer.close()


def _records(env: PipelineEnv, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` up to its end now (bounded)."""
    from kafka import TopicPartition

    consumer = env.consumer()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in batch)
        return out
    finally:
        consumer.close()


def _vector(name: str) -> str:
    path = Path(__file__).parents[1] / "vectors" / "tcf" / "tcf_vectors.json"
    vectors = json.loads(path.read_text("utf-8"))["vectors"]
    return str(next(v["string"] for v in vectors if v["name"] == name))


def test_tc_strings_are_read_whole_or_refused_with_a_reason(env: PipelineEnv) -> None:
    now = datetime.now(UTC)
    full = _vector("all_purposes_bitfield")
    cut = full.split(".")[0][:-9]  # into the last field of the core segment
    consents = [
        _event("consent/1", "t-cut", "tcf-user-1", now - timedelta(minutes=9),
               purposes={"personalisation": True}, source="banner", tcf=cut),
        _event("consent/1", "t-geo", "tcf-user-2", now - timedelta(minutes=9),
               purposes={"geolocation": True}, source="app_settings"),
        _event("consent/1", "t-sf1", "tcf-user-2", now - timedelta(minutes=8),
               purposes={}, source="banner", tcf=_vector("special_feature_1_opted_out")),
    ]  # fmt: skip
    geo = _event("geolocation/1", "t-g", "tcf-user-2", now - timedelta(minutes=7), app=APP,
                 lat=48.85661, lon=2.35222)  # fmt: skip
    navs = [_nav("t-n", "tcf-user-1", now - timedelta(minutes=7))]
    producer = env.producer()
    send_json(producer, env.topic("privacy.consent.v1"), consents)
    send_json(producer, env.topic("app.navigation.v1"), navs)
    send_json(producer, env.topic("app.geolocation.v1"), [geo])
    producer.close()
    refs = DecisionRefs(env.settings)  # decisions carry the ledger-keyed event id
    raw = {refs.ref(e["event_id"], datetime.fromisoformat(e["occurred_at"])): e["event_id"]
           for e in [*consents, *navs, geo]}
    consumer = env.consumer("pipeline.decisions.v1")
    want = {"t-cut", "t-sf1", "t-n", "t-g"}
    try:
        records = collect(consumer, lambda rs: want <= _outcomes(rs, raw).keys(), timeout=120)
    finally:
        consumer.close()
    outcomes = _outcomes(records, raw)
    assert want <= outcomes.keys(), env.log_text("worker-1")[-3000:]
    assert outcomes["t-cut"] == {
        "personalisation": "applied",
        "tcf": "ignored_invalid_tcf_truncated",
    }
    assert outcomes["t-n"]["personalisation"] == "kept"  # the explicit purpose still applies
    assert outcomes["t-n"]["audience_measurement"] == "dropped_no_consent"  # no partial read
    assert outcomes["t-sf1"]["geolocation"] == "applied"
    assert outcomes["t-g"]["geolocation"] == "dropped_withdrawn"  # special feature 1 opted out


def _outcomes(records: list[dict[str, Any]], raw: dict[str, str]) -> dict[str, dict[str, str]]:
    """Raw event id -> outcomes, for the decisions of the events ``raw`` knows."""
    return {raw[r["event_id"]]: r["outcomes"] for r in records
            if r.get("kind") == "event" and r.get("event_id") in raw}
