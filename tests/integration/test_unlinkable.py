"""Unlinkable records on the real broker: a short run of the worker, then every output topic.

Reading any two sanitized topics, no identifying value (per-purpose event id, pseudonym,
ciphertexts) of one appears in the other; no sanitized, decision or dead-letter record
carries a raw event id (nor a user id, device id or ip); a resent event keeps one id per
topic, so the sink counts it once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.bench.compare import read_partials_at
from pipeline.bench.watch import DecisionWatcher
from pipeline.settings import Settings
from pipeline.topics import DEADLETTER, DECISIONS, sanitized
from tests.integration.pipeline_harness import (
    PipelineEnv,
    expected_inputs,
    pipeline_env,
    run_sink,
    send_json,
    worker_alive,
)
from tests.integration.topic_reader import decode, read_values
from tests.unit.processors.linkage import PURPOSES, identifiers

APP = {"name": "mm-mobile", "platform": "android", "version": "3.2"}
USERS = 6
WAIT_S = 120.0


@pytest.fixture
def env(tmp_path: Path, settings: Settings) -> Iterator[PipelineEnv]:
    with pipeline_env(tmp_path, settings) as e:
        yield e


def _events(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Consents to every purpose, then navigation and geolocation events with every field."""
    consents, events = [], []
    for u in range(USERS):
        user = f"unlink-user-{u}"
        consents.append({"schema": "consent/1", "event_id": f"c-{u}", "user_id": user,
                         "occurred_at": (now - timedelta(minutes=20)).isoformat(),
                         "source": "banner", "purposes": dict.fromkeys(
                             ("audience_measurement", "personalisation", "advertising",
                              "geolocation"), True)})
        for i in range(4):
            common = {"user_id": user, "occurred_at": (now - timedelta(minutes=10 - i)).isoformat(),
                      "app": APP, "device_id": f"dev-{u}", "ip": f"10.1.0.{u}"}
            events.append({"schema": "navigation/1", "event_id": f"n-{u}-{i}", **common,
                           "type": "screen_view", "screen": "home", "session_id": f"s-{u}",
                           "campaign": "autumn"})
            events.append({"schema": "geolocation/1", "event_id": f"g-{u}-{i}", **common,
                           "lat": 48.85 + u / 50, "lon": 2.35})
    return consents, events


def test_sanitized_topics_do_not_join_and_no_output_has_a_raw_id(env: PipelineEnv) -> None:
    now = datetime.now(UTC)
    consents, events = _events(now)
    producer = env.producer()
    send_json(producer, env.topic("privacy.consent.v1"), consents)
    for e in events:
        topic = "app.navigation.v1" if e["schema"] == "navigation/1" else "app.geolocation.v1"
        send_json(producer, env.topic(topic), [e])
    send_json(producer, env.topic("app.navigation.v1"), [events[0]])  # a client's retry
    producer.send(env.topic("app.navigation.v1"), key=b"unlink-user-0",
                  value=b'{"schema":"navigation/1","event_id":"bad-1","user_id":7}')
    producer.flush()
    producer.close()

    class _Msg:  # expected_inputs reads simulator messages: value and malformed
        def __init__(self, event: dict[str, Any]) -> None:
            self.value, self.malformed = json.dumps(event).encode(), None

    ids, _ = expected_inputs([_Msg(e) for e in consents + events], env)
    with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        watcher.wait(ids, 1, WAIT_S, worker_alive(env, worker))

    values = {p: read_values(env, sanitized(p)) for p in PURPOSES}
    records = {p: decode(v) for p, v in values.items()}
    assert all(records.values()), {p: len(r) for p, r in records.items()}
    found = {p: {v for r in rs for _, v in identifiers(r)} for p, rs in records.items()}
    fields = {f for rs in records.values() for r in rs for f, _ in identifiers(r)}
    assert {"event_id", "pseudonym", "enc.coords", "enc.device_id", "enc.ip"} <= fields
    for a, b in itertools.combinations(PURPOSES, 2):
        assert not found[a] & found[b], (a, b, sorted(found[a] & found[b])[:3])

    outputs = {**{sanitized(p): v for p, v in values.items()},
               DECISIONS: read_values(env, DECISIONS), DEADLETTER: read_values(env, DEADLETTER)}
    assert len(outputs[DEADLETTER]) == 1
    raw = {e["event_id"] for e in consents + events} | {"bad-1"} \
        | {e["user_id"] for e in events} | {e["device_id"] for e in events} \
        | {e["ip"] for e in events}
    for topic, messages in outputs.items():
        text = b"\n".join(messages).decode()
        leaked = sorted(r for r in raw if json.dumps(r) in text)
        assert not leaked, (topic, leaked[:3])

    # The resent event: one id per topic, twice (the sink de-duplicates on it).
    audience = [r["event_id"] for r in records["audience_measurement"]]
    assert len(audience) == len(set(audience)) + 1
    run_sink(env)
    daily = read_partials_at(env.data_dir)["processing_daily"]
    kept = sum(n for (_, stream, purpose, outcome), (n,) in daily.items()
               if (stream, purpose, outcome) == ("navigation", "audience_measurement", "kept"))
    assert kept == len(audience) - 1 == USERS * 4
