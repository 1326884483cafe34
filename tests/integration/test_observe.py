"""Observability on the real broker: metrics and health endpoints of the worker, sink and
collector, and ``privacy-pipeline status`` (lag that drops to 0 once the worker caught up).

Metrics ports are free ports picked per test, so parallel runs on one host never collide.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.collector.auth import hash_key, new_key
from pipeline.observe.scrape import parse, values
from pipeline.settings import Settings
from tests.integration.pipeline_harness import PipelineEnv, pipeline_env, send_json

APP = {"name": "mm-web", "platform": "web", "version": "1.0"}
WAIT_S = 90.0
NAV, GEO, CONSENT = "app.navigation.v1", "app.geolocation.v1", "privacy.consent.v1"


_TAKEN: set[int] = set()


def free_port() -> int:
    """A free port below the ephemeral range (so no outgoing connection takes it meanwhile),
    never the same twice in a run."""
    while True:
        port = random.randint(20000, 30000)
        if port in _TAKEN or port - 1 in _TAKEN or port + 1 in _TAKEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _TAKEN.add(port)
        return port


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = WAIT_S, env: PipelineEnv | None = None
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        logs = "" if env is None else "\n".join(
            f"{p.name}:\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted(env.data_dir.glob("*.log")))
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs}"
        time.sleep(0.5)


def scrape(port: int) -> dict[str, float]:
    """Samples of a metrics endpoint, as ``name{label="v",...}`` -> value (labels sorted)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for name, labels, value in parse(text):
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        out[f"{name}{{{inner}}}" if labels else name] = value
    return out


def health(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
    except httpx.TransportError:
        return None


def status(env: PipelineEnv, fmt: str = "json") -> Any:
    result = env.cli("status", "--format", fmt, timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout) if fmt == "json" else result.stdout


def nav(event_id: str, user: str, ago: timedelta = timedelta(minutes=1)) -> dict[str, Any]:
    at = datetime.now(UTC) - ago
    return {"schema": "navigation/1", "event_id": event_id, "user_id": user,
            "occurred_at": at.isoformat(), "app": APP, "type": "screen_view", "screen": "home"}


def consent(user: str) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=2)
    return {"schema": "consent/1", "event_id": f"c-{user}", "user_id": user,
            "occurred_at": at.isoformat(), "purposes": {"audience_measurement": True},
            "source": "app_settings"}


def table_rows(text: str) -> list[list[str]]:
    """Cells of every line of the table output (columns are 2+ spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def assert_table_matches(doc: dict[str, Any], table: str) -> None:
    """The table shows the JSON document's values."""
    rows = table_rows(table)
    for stage in doc["stages"]:
        for topic, lag in stage["topics"].items():
            assert [stage["stage"], stage["source"], topic, str(lag)] in rows, (topic, table)
    for w in doc["workers"]:
        assert [w["worker_id"], w["host"], str(w["partitions"]), str(w["held"]),
                w["metrics"]] in rows, table
    held = doc["held_events"]
    assert f"held events: {'unknown' if held is None else held} " in table
    assert doc["publication"]["path"] in table
    if doc["publication"]["published_at"] is not None:
        assert f"published {doc['publication']['published_at']}," in table


@pytest.fixture
def env(tmp_path: Path, settings: Settings) -> Iterator[PipelineEnv]:
    with pipeline_env(tmp_path, settings) as e:
        yield e


def stage(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["stages"] if s["stage"] == name)


def test_status_lag_drops_to_zero_and_worker_and_sink_metrics_move(env: PipelineEnv) -> None:
    worker_port, sink_port = free_port(), free_port()
    # A worker listens on base + its number: worker 1 on worker_port.
    env.env["PRIVACY_PIPELINE_WORKER_METRICS_PORT"] = str(worker_port - 1)
    env.env["PRIVACY_PIPELINE_SINK_METRICS_PORT"] = str(sink_port)
    env.env["PRIVACY_PIPELINE_SINK_PUBLISH_INTERVAL_S"] = "1"
    users = ["u0", "u1", "u2"]
    producer = env.producer()
    send_json(producer, env.topic(CONSENT), [consent(u) for u in users])
    send_json(producer, env.topic(NAV), [nav(f"n{i}", users[i % 3]) for i in range(20)])

    before = status(env)
    assert stage(before, "worker")["lag"] == 23
    assert stage(before, "worker")["topics"] == {env.topic(NAV): 20, env.topic(GEO): 0,
                                                 env.topic(CONSENT): 3}
    assert before["workers"] == [] and before["held_events"] is None
    assert before["publication"]["published_at"] is None
    assert_table_matches(before, status(env, "table"))

    env.start("worker", "--id", "1", log_name="worker-1")
    env.start("sink", "--log-level", "warning", log_name="sink")
    wait_for("worker health", lambda: health(worker_port) == 200, env=env)
    caught_up = wait_for("worker caught up", lambda: (
        (doc := status(env)) and stage(doc, "worker")["lag"] == 0 and doc["workers"]
        and doc["workers"][0]["held"] is not None and doc))
    assert caught_up["workers"][0]["worker_id"] == "1"
    assert caught_up["workers"][0]["partitions"] == 3 * env.settings.partitions
    assert caught_up["workers"][0]["metrics"] == f"http://127.0.0.1:{worker_port}/metrics"
    assert caught_up["held_events"] == 0
    # Fresh events of a user without any consent answer: held for the grace window (30 s).
    send_json(producer, env.topic(NAV), [nav(f"h{i}", "held-user", timedelta(0))
                                         for i in range(4)])
    wait_for("held events reported", lambda: status(env)["held_events"] == 4, timeout=20)

    m = scrape(worker_port)
    kept = ('worker_decisions_total{outcome="kept",purpose="audience_measurement",'
            'stream="navigation"}')
    assert m[kept] == 20
    assert m['worker_decisions_total{outcome="applied",purpose="audience_measurement",'
             'stream="consent"}'] == 3
    assert m["worker_batch_records_count"] >= 1 and m["worker_batch_records_sum"] >= 27
    assert m["worker_consent_effect_seconds_count"] == 3
    assert m["worker_held_events"] == 4
    assert m['worker_fence_reads_total{kind="end_offsets"}'] > 0

    send_json(producer, env.topic(NAV), [nav(f"m{i}", "u0") for i in range(10)])
    producer.close()
    wait_for("counters to move", lambda: scrape(worker_port)[kept] == 30)
    assert wait_for("the worker's lag gauge", lambda: (
        lags := {k: v for k, v in scrape(worker_port).items()
                 if k.startswith("worker_consumer_lag")}) and all(v == 0 for v in lags.values())
        and len(lags) == 3 * env.settings.partitions)

    assert health(sink_port) == 200
    final = wait_for("sink caught up and published", lambda: (
        (doc := status(env)) and stage(doc, "sink 0/1")["lag"] == 0
        and stage(doc, "sink 0/1")["source"] == "sink metrics"
        and sum(stage(doc, "sink 0/1")["topics"].values()) == 0
        and doc["publication"]["published_at"] is not None and doc))
    assert 0 <= final["publication"]["age_s"] < 60
    sink = scrape(sink_port)
    assert sink["sink_records_total"] > 0 and sink["sink_publications_total"] >= 1
    assert 0 <= sink["sink_publication_age_seconds"] < 60
    assert sink[f'sink_info{{decisions="{env.topic("pipeline.decisions.v1")}",shard="0/1"}}'] == 1
    assert wait_for("the sink's lag gauge", lambda: (
        lags := [v for k, v in scrape(sink_port).items() if k.startswith("sink_consumer_lag")])
        and not any(lags), timeout=30)
    assert_table_matches(final, status(env, "table"))


def test_status_of_a_stopped_pipeline_reads_the_sink_database(env: PipelineEnv) -> None:
    producer = env.producer()
    send_json(producer, env.topic(CONSENT), [consent("u9")])
    producer.close()
    env.env["PRIVACY_PIPELINE_SINK_METRICS_PORT"] = "0"
    result = env.cli("sink", "--once", "--log-level", "warning", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = status(env)
    sink = stage(doc, "sink 0/1")
    assert (sink["source"], sink["lag"]) == ("sink database", 0)
    assert stage(doc, "worker")["lag"] == 1  # nobody decided the consent record
    assert doc["publication"]["published_at"] is not None


def test_collector_metrics_are_on_their_own_port(env: PipelineEnv) -> None:
    public, metrics = free_port(), free_port()
    key = new_key()
    env.env.update({"PRIVACY_PIPELINE_COLLECTOR_KEYS": f"web:{hash_key(key)}",
                    "PRIVACY_PIPELINE_COLLECTOR_METRICS_PORT": str(metrics)})
    env.start("collector", "--port", str(public), "--log-level", "warning", log_name="collector")
    url = f"http://127.0.0.1:{public}"
    wait_for("collector", lambda: health(public) == 200, timeout=60)
    assert httpx.get(f"{url}/metrics", timeout=5).status_code == 404
    authed = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert authed.status_code == 404
    sent = httpx.post(f"{url}/v1/events", json=[nav("c1", "u1")],
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert sent.status_code == 202, sent.text
    m = scrape(metrics)
    assert m['collector_events_accepted_total{schema="navigation/1"}'] == 1
    assert health(metrics) == 200
    assert values(parse(httpx.get(f"http://127.0.0.1:{metrics}/metrics").text),
                  "collector_requests_total")


def _cli_without_broker(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
           "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path), "PRIVACY_PIPELINE_BROKER_WAIT_S": "3"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_status_without_a_broker_is_one_line_and_bounded(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _cli_without_broker(tmp_path, "status")
    assert time.monotonic() - started < 15
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no Kafka broker answered" in result.stderr


def test_status_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = _cli_without_broker(tmp_path, "status", "--format", "yaml")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "privacy-pipeline: error: --format 'yaml' is not one of: table, json")


@pytest.mark.timeout(300)
def test_worker_health_follows_the_broker(settings: Settings, tmp_path: Path) -> None:
    """A private broker (the suite's is never stopped) goes away under an idle worker: its
    /healthz turns 503 within the probe's bounds (back to 200 on the broker's next answer:
    unit-tested in test_observe_server)."""
    from pipeline import broker
    from tests.integration.test_broker_lifecycle import private

    mine = private(settings, tmp_path / "broker")
    broker.start(mine)
    env = PipelineEnv(tmp_path, mine)  # not pipeline_env: its clean-up needs the broker
    try:
        env.create_topics()
        assert env.cli("keys", "init").returncode == 0
        port = free_port()
        env.env["PRIVACY_PIPELINE_WORKER_METRICS_PORT"] = str(port - 1)
        env.start("worker", "--id", "1", log_name="worker-1")
        wait_for("worker health", lambda: health(port) == 200, env=env)
        broker.stop(mine)
        stopped = time.monotonic()
        wait_for("503 without a broker", lambda: health(port) == 503, timeout=60, env=env)
        down_s = time.monotonic() - stopped
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert answer["status"] in ("kafka_unreachable", "kafka_retrying", "kafka_silent")
        assert down_s < 40  # probe every 5 s, 4 s bound; silence alone: 30 s
    finally:
        for proc in env.procs:  # no broker to shut down against: no need to wait for it
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        env.stop_all()
        broker.stop(mine)
