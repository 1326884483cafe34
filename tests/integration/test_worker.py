"""The consent worker on the real broker: withdrawal race, take-over after a kill."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import keys
from pipeline.bench.refs import DecisionRefs
from pipeline.policy import load_policy
from pipeline.settings import Settings
from processors.refs import event_ref
from tests.integration.pipeline_harness import PipelineEnv, collect, pipeline_env, send_json

APP = {"name": "mm-mobile", "platform": "android", "version": "3.2"}


def _nav(event_id: str, user: str, at: datetime) -> dict[str, Any]:
    return {
        "schema": "navigation/1",
        "event_id": event_id,
        "user_id": user,
        "occurred_at": at.isoformat(),
        "app": APP,
        "type": "screen_view",
        "screen": "home",
    }


def _consent(event_id: str, user: str, at: datetime, granted: bool) -> dict[str, Any]:
    return {
        "schema": "consent/1",
        "event_id": event_id,
        "user_id": user,
        "occurred_at": at.isoformat(),
        "purposes": {"audience_measurement": granted},
        "source": "app_settings",
    }


def _raw_ids(env: PipelineEnv, events: list[dict[str, Any]]) -> dict[str, str]:
    """Decision id -> raw event id: decisions carry the ledger-keyed id, never the raw one."""
    refs = DecisionRefs(env.settings)
    return {refs.ref(e["event_id"], datetime.fromisoformat(e["occurred_at"])): e["event_id"]
            for e in events}


def _event_decisions(
    records: list[dict[str, Any]], raw: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Raw event id -> outcomes, for the decisions of the events ``raw`` knows."""
    return {
        raw[r["event_id"]]: r["outcomes"]
        for r in records
        if r.get("kind") == "event" and "audience_measurement" in r.get("outcomes", {})
        and r["event_id"] in raw
    }


def _wait_ready(env: PipelineEnv, producer: Any, user: str = "probe-user") -> None:
    """Produce a probe event and wait until a worker decided it (the group is up)."""
    probe = _nav("probe-1", user, datetime.now(UTC) - timedelta(minutes=5))
    raw = _raw_ids(env, [probe])
    send_json(producer, env.topic("app.navigation.v1"), [probe])
    consumer = env.consumer("pipeline.decisions.v1")
    try:
        seen = collect(consumer, lambda rs: "probe-1" in _event_decisions(rs, raw), timeout=120)
    finally:
        consumer.close()
    assert "probe-1" in _event_decisions(seen, raw), env.log_text("worker-1")[-3000:]


@pytest.fixture
def env(tmp_path: Path, settings: Settings) -> Any:
    with pipeline_env(tmp_path, settings) as e:
        yield e


def test_withdrawal_race_has_zero_post_withdrawal_contributions(env: PipelineEnv) -> None:
    users = [f"race-user-{i}" for i in range(1000)]
    env.start("worker", "--id", "1", log_name="worker-1")
    producer = env.producer()
    _wait_ready(env, producer)
    now = datetime.now(UTC)
    nav, con = env.topic("app.navigation.v1"), env.topic("privacy.consent.v1")
    send_json(
        producer, con, [_consent(f"g-{u}", u, now - timedelta(seconds=60), True) for u in users]
    )
    befores = [_nav(f"before-{u}", u, now - timedelta(seconds=50)) for u in users]
    send_json(producer, nav, befores)
    # The withdrawal is acknowledged by Kafka; the next events follow at once.
    send_json(
        producer, con, [_consent(f"w-{u}", u, now - timedelta(seconds=40), False) for u in users]
    )
    afters = [_nav(f"after-{u}", u, now - timedelta(seconds=30)) for u in users]
    send_json(producer, nav, afters)
    producer.close()
    raw = _raw_ids(env, befores + afters)
    ring = keys.open_keyring(env.settings, load_policy(env.settings.policy).key_specs())
    kept_raw = {  # sanitized records carry the event id keyed under the purpose's key
        event_ref(ring, "audience_measurement", e["event_id"],
                  datetime.fromisoformat(e["occurred_at"])): e["event_id"]
        for e in befores + afters
    }

    consumer = env.consumer("pipeline.decisions.v1", "sanitized.audience_measurement.v1")
    want = {f"before-{u}" for u in users} | {f"after-{u}" for u in users}
    records = collect(consumer, lambda rs: want <= set(_event_decisions(rs, raw)), timeout=180)
    consumer.close()
    decided = _event_decisions(records, raw)
    assert want <= set(decided), env.log_text("worker-1")[-3000:]
    after = [decided[f"after-{u}"]["audience_measurement"] for u in users]
    before = [decided[f"before-{u}"]["audience_measurement"] for u in users]
    assert after.count("dropped_withdrawn") == len(users)
    assert before.count("kept") == len(users)
    kept_ids = {kept_raw.get(r["event_id"], "?") for r in records
                if r.get("purpose") == "audience_measurement"}
    assert not {i for i in kept_ids if i.startswith("after-")}
    assert {f"before-{u}" for u in users} <= kept_ids


def test_killing_a_worker_loses_no_event(env: PipelineEnv) -> None:
    env.start("worker", "--id", "1", log_name="worker-1")
    second = env.start("worker", "--id", "2", log_name="worker-2")
    producer = env.producer()
    _wait_ready(env, producer)
    now = datetime.now(UTC)
    nav = env.topic("app.navigation.v1")
    ids: list[str] = []
    raw: dict[str, str] = {}
    for chunk in range(10):
        events = [
            _nav(f"k{chunk}-{i}", f"user-{i % 300}", now - timedelta(minutes=10))
            for i in range(500)
        ]
        ids += [e["event_id"] for e in events]
        raw |= _raw_ids(env, events)
        send_json(producer, nav, events)
        if chunk == 3:
            os.killpg(second.pid, signal.SIGKILL)  # mid-stream, no goodbye
        time.sleep(0.2)
    producer.close()
    consumer = env.consumer("pipeline.decisions.v1")
    records = collect(consumer, lambda rs: set(ids) <= set(_event_decisions(rs, raw)), timeout=240)
    consumer.close()
    missing = set(ids) - set(_event_decisions(records, raw))
    assert not missing, f"{len(missing)} events never decided\n" + env.log_text("worker-1")[-3000:]


def test_two_workers_match_the_simulator_ground_truth(env: PipelineEnv) -> None:
    from collections import Counter, defaultdict

    from pipeline.policy import load_policy
    from pipeline.simulator import SimulationConfig, generate, ground_truth, produce
    from pipeline.simulator.clock import default_start
    from pipeline.simulator.model import CONSENT, GEOLOCATION, NAVIGATION

    env.start("worker", "--id", "1", log_name="worker-1")
    env.start("worker", "--id", "2", log_name="worker-2")
    producer = env.producer()
    _wait_ready(env, producer)
    now = datetime.now(UTC)
    traffic = generate(SimulationConfig(800, 8000, 5, default_start(now, 4), 4))
    truth = ground_truth(traffic, load_policy(), now)
    topics = {t: env.topic(t) for t in (NAVIGATION, GEOLOCATION, CONSENT)}
    produce(traffic, producer, topics=topics)
    producer.close()

    refs = DecisionRefs(env.settings)
    ref_of = {  # decisions carry the ledger-keyed event id
        refs.of_value(m.value): m
        for m in traffic.messages
        if m.malformed is None and m.topic != CONSENT
    }
    events = set(ref_of)
    consumer = env.consumer("pipeline.decisions.v1")
    records = collect(consumer, lambda rs: events <= {r.get("event_id") for r in rs}, timeout=240)
    consumer.close()
    got: dict[str, Counter[str]] = defaultdict(Counter)
    seen: set[str] = set()
    for r in records:  # workers are at-least-once: count each event once
        fresh = r.get("event_id") not in seen and r.get("event_id") in events
        if r.get("kind") == "event" and r["stream"] != "consent" and fresh:
            seen.add(r["event_id"])
            for purpose, outcome in r["outcomes"].items():
                got[purpose][outcome] += 1
    missing = [json.loads(ref_of[ref].value) for ref in events - seen]
    assert not missing, (
        len(missing),
        sorted({(e["schema"], e["occurred_at"][:16]) for e in missing})[:10],
    )
    got_plain = {p: dict(sorted(c.items())) for p, c in got.items()}
    assert got_plain == truth["decisions"], (got_plain, truth["decisions"])
