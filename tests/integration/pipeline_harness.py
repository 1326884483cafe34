"""Helpers for integration tests that run the real worker (and sink) as subprocesses.

Every test gets its own topic prefix, data directory and keyring, so tests never see each
other's records on the shared broker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from pipeline.kafka import make_admin, make_consumer, make_producer
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.topics import all_specs, ensure_topics

CLI = [sys.executable, "-m", "pipeline.cli"]


class PipelineEnv:
    """An isolated pipeline: prefix, data dir, env for subprocesses."""

    def __init__(self, tmp: Path, base: Settings) -> None:
        self.prefix = f"it{uuid.uuid4().hex[:10]}."
        self.data_dir = tmp / "data"
        self.env = {
            **os.environ,
            "PRIVACY_PIPELINE_TOPIC_PREFIX": self.prefix,
            "PRIVACY_PIPELINE_DATA_DIR": str(self.data_dir),
            "PRIVACY_PIPELINE_ANALYTICS_DIR": str(tmp / "analytics"),
            "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": base.bootstrap_servers,
            "PRIVACY_PIPELINE_PARTITIONS": str(base.partitions),
            "PRIVACY_PIPELINE_WORKER_STORE": "rocksdb://",
            "PRIVACY_PIPELINE_ACTOR": "integration-test",
            # Metrics endpoints off unless a test asks for them (test_observe picks free
            # ports): parallel runs on one host must not fight over the default ports.
            "PRIVACY_PIPELINE_WORKER_METRICS_PORT": "0",
            "PRIVACY_PIPELINE_SINK_METRICS_PORT": "0",
            "PRIVACY_PIPELINE_COLLECTOR_METRICS_PORT": "0",
        }
        self.settings = Settings.from_env(self.env)
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def analytics_path(self) -> Path:
        """The ``analytics.duckdb`` the sink publishes (outside the data dir)."""
        return self.settings.analytics_directory / "analytics.duckdb"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def create_topics(self) -> None:
        purposes = load_policy(None).purposes
        admin = make_admin(self.settings)
        try:
            ensure_topics(admin, all_specs(self.settings, purposes))  # under self.prefix
        finally:
            admin.close()

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / f"{log_name}.log", "wb")  # noqa: SIM115 - closed with proc
        proc = subprocess.Popen(
            [*CLI, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def log_text(self, log_name: str) -> str:
        path = self.data_dir / f"{log_name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def delete_topics(self) -> None:
        admin = make_admin(self.settings)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                admin.delete_topics(mine, raise_errors=False)
        finally:
            admin.close()

    def producer(self) -> KafkaProducer:
        return make_producer(self.settings)

    def consumer(self, *topics: str) -> KafkaConsumer:
        return make_consumer(
            self.settings,
            *[self.topic(t) for t in topics],
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )


@contextmanager
def pipeline_env(tmp: Path, base: Settings) -> Iterator[PipelineEnv]:
    env = PipelineEnv(tmp, base)
    env.create_topics()
    result = env.cli("keys", "init")
    assert result.returncode == 0, result.stderr
    try:
        yield env
    finally:
        env.stop_all()
        env.delete_topics()


def send_json(producer: KafkaProducer, topic: str, events: list[dict[str, Any]]) -> None:
    """Produce events keyed by user id and wait until Kafka acknowledged all of them."""
    futures = [
        producer.send(topic, key=e["user_id"].encode(), value=json.dumps(e).encode())
        for e in events
    ]
    producer.flush()
    for f in futures:
        f.get(timeout=30)


def collect(
    consumer: KafkaConsumer, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 120.0
) -> list[dict[str, Any]]:
    """Read records (unbatching ``{"records": [...]}``) until ``done(records)`` or timeout."""
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            for r in batch:
                value = json.loads(r.value)
                records.extend(value.get("records", [value]))
        if done(records):
            return records
    return records


# -- whole-pipeline helpers (fault, fuzz and memory tests) ------------------------------------


@contextmanager
def pipeline_env_with(tmp: Path, base: Settings, **extra: str) -> Iterator[PipelineEnv]:
    """Like :func:`pipeline_env`, with more ``PRIVACY_PIPELINE_*`` variables (e.g. ``POLICY``)
    set before the topics and the keyring are created."""
    env = PipelineEnv(tmp, base)
    env.env.update({f"PRIVACY_PIPELINE_{k}": v for k, v in extra.items()})
    env.settings = Settings.from_env(env.env)
    env.create_topics()
    result = env.cli("keys", "init")
    assert result.returncode == 0, result.stderr
    try:
        yield env
    finally:
        env.stop_all()
        env.delete_topics()


def input_topics(env: PipelineEnv) -> dict[str, str]:
    """Contract name -> prefixed name of the three input topics (for ``simulator.produce``)."""
    from pipeline.topics import CONSENT, GEOLOCATION, NAVIGATION

    return {t: env.topic(t) for t in (NAVIGATION, GEOLOCATION, CONSENT)}


def expected_inputs(messages: Any, env: PipelineEnv) -> tuple[set[str], int]:
    """Decision ids of the valid simulated messages, and the number of malformed ones.

    Decisions carry the event id keyed under the consent-ledger key (never the raw id): the
    ids are computed with the test's keyring, as the worker computes them.
    """
    from pipeline.bench.refs import DecisionRefs

    refs = DecisionRefs(env.settings)
    ids = refs.of_values(m.value for m in messages if m.malformed is None)
    return ids, sum(m.malformed is not None for m in messages)


def sanitized_refs(env: PipelineEnv, purpose: str, messages: Any) -> set[str]:
    """The ids ``purpose``'s sanitized records of the valid ``messages`` carry (where the
    purpose has a live key for the event's time): keyed per purpose, as the worker keys them."""
    import keys
    from keys.exceptions import KeysError
    from processors.refs import event_ref
    from schemas.validator import decode

    ring = keys.open_keyring(env.settings, load_policy(env.settings.policy).key_specs())
    out: set[str] = set()
    for m in messages:
        if m.malformed is None:
            event = decode(m.value)
            try:
                out.add(event_ref(ring, purpose, event.event_id, event.occurred_at))
            except KeysError:
                continue
    return out


def worker_alive(env: PipelineEnv, *procs: subprocess.Popen[bytes]) -> Callable[[], str | None]:
    """For ``DecisionWatcher.wait``: why the workers can no longer finish (one died), or None."""

    def check() -> str | None:
        for proc in procs:
            if proc.poll() is not None:
                logs = "\n".join(env.log_text(p.stem) for p in env.data_dir.glob("worker*.log"))
                return f"worker {proc.pid} exited with status {proc.returncode}:\n{logs[-3000:]}"
        return None

    return check


def run_sink(env: PipelineEnv, idle: float = 2.0, timeout: float = 180.0) -> str:
    """Run ``privacy-pipeline sink --until-idle`` to completion; its stdout."""
    result = env.cli("sink", "--until-idle", str(idle), "--log-level", "warning",
                     timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def sink_differences(env: PipelineEnv, expected: Any, k: int = 5) -> list[str]:
    """Differences between the stopped sink's aggregates (its partials, and analytics.duckdb)
    and ``expected`` (:func:`pipeline.bench.compare.from_truth` of an oracle's tables)."""
    from pipeline.bench.compare import (
        differences,
        publication_differences,
        read_partials_at,
        read_published,
    )

    found = differences(expected, read_partials_at(env.data_dir))
    return found + publication_differences(expected, read_published(env.analytics_path), k)
