"""``privacy-pipeline demo`` as a user runs it, on the test broker: exact aggregates, clean exit.

Each run has its own data directory and topic prefix. The demo's processes are found by the
data directory in their environment (children inherit it), so "nothing left running" is
checked without knowing their pids in advance.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka.errors import KafkaError

from pipeline.kafka import make_admin, probe
from pipeline.settings import Settings
from tests.integration.modes import count_entries, exposed

K = 5  # the default policy's k_threshold
CLI = [sys.executable, "-m", "pipeline.cli"]


def _env(settings: Settings, data_dir: Path, prefix: str) -> dict[str, str]:
    return {**os.environ, "PRIVACY_PIPELINE_DATA_DIR": str(data_dir),
            "PRIVACY_PIPELINE_ANALYTICS_DIR": str(data_dir.parent / "analytics"),
            "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix,
            "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "PRIVACY_PIPELINE_ACTOR": "integration-test", "COLUMNS": "160"}


@pytest.fixture
def isolated(settings: Settings, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """(environment, data dir) of one demo run; its topics and group are deleted afterwards."""
    prefix = f"demo{uuid.uuid4().hex[:10]}."
    data_dir = tmp_path / "data"
    yield _env(settings, data_dir, prefix), data_dir
    admin = make_admin(settings)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine, raise_errors=False)
        with contextlib.suppress(KafkaError):  # absent when interrupted before the workers
            admin.delete_groups([f"{prefix}privacy-pipeline"])
    finally:
        admin.close()


def processes_of(data_dir: Path) -> dict[int, str]:
    """Live processes whose environment names ``data_dir`` (pid -> command line)."""
    marker = f"PRIVACY_PIPELINE_DATA_DIR={data_dir}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in environ and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _published(path: Path, table: str) -> list[dict[str, Any]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        cursor = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        names = [d[0] for d in cursor.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        conn.close()
    for row in rows:  # the truth's notation: ISO day, hour as 2026-04-01T08:00:00Z
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.strftime("%Y-%m-%dT%H:00:00Z")
            elif isinstance(value, date):
                row[key] = value.isoformat()
    return rows


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def _thresholded(rows: list[dict[str, Any]], users: str) -> list[str]:
    kept = [r for r in rows if r[users] >= K
            or (r[users] == 0 and r.get("views", 0) == 0 and r.get("anonymous_views", 0) >= K)]
    return sorted(map(_key, kept))


def _small_cells_merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """processing_daily as published: rows under K merged into `other`, then thresholded."""
    kept = [r for r in rows if r["events"] >= K]
    other: dict[tuple[str, str, str], int] = {}
    for r in rows:
        if r["events"] < K:
            group = (r["day"], r["stream"], r["purpose"])
            other[group] = other.get(group, 0) + r["events"]
    return kept + [{"day": d, "stream": s, "purpose": p, "outcome": "other", "events": n}
                   for (d, s, p), n in other.items() if n >= K]


@pytest.mark.timeout(420)
def test_demo_matches_the_ground_truth_and_leaves_nothing_running(
    isolated: tuple[dict[str, str], Path], settings: Settings,
) -> None:
    env, data_dir = isolated
    # The operator's usual umask: the pipeline must still write nothing others can read.
    result = subprocess.run([*CLI, "demo", "--events", "3000", "--users", "300", "--seed", "7",
                             "--timeout", "240"], env=env, capture_output=True, text=True,
                            timeout=400, check=False, umask=0o022)
    logs = "".join(p.read_text(errors="replace")[-1500:] for p in (data_dir / "logs").glob("*"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr + logs
    for title in ("Top screens", "Visitors per day", "Consent per purpose", "Dropped and why"):
        assert title in result.stdout
    assert "events/s (first produce → analytics.duckdb published)" in result.stdout
    assert processes_of(data_dir) == {}
    assert probe(settings)  # the broker it found answering is left running

    truth = json.loads((data_dir / "truth" / "demo-7.json").read_text())["tables"]
    # Keyring, worker RocksDB tables, sink DuckDB, logs, truth: private to the pipeline.
    assert (data_dir / "keys" / "keyring.json").exists() and (data_dir / "pipeline.duckdb").exists()
    # The walk must have seen the keyring, the sink database, the logs and the truth (RocksDB
    # files exist only once a worker flushed, so they are not counted on).
    assert {"keys", "pipeline.duckdb", "logs", "truth"} <= {p.name for p in data_dir.iterdir()}
    assert count_entries(data_dir) > 8
    assert exposed(data_dir) == []
    analytics = data_dir.parent / "analytics" / "analytics.duckdb"
    assert not analytics.is_relative_to(data_dir) and not (data_dir / "analytics.duckdb").exists()
    assert stat.S_IMODE(analytics.stat().st_mode) == 0o600
    assert stat.S_IMODE(analytics.parent.stat().st_mode) == 0o700
    for table, users in (("navigation_daily", "visitors"), ("navigation_hourly", "visitors"),
                         ("campaign_daily", "visitors"), ("geolocation_hourly", "users")):
        got = sorted(map(_key, _published(analytics, table)))
        assert got == _thresholded(truth[table], users), table
    # Decisions carry no user, but a rare outcome could single one out: rows under k events are
    # merged into their (day, stream, purpose)'s `other` outcome, suppressed if still under k.
    # The oracle counts navigation and geolocation events and invalid input of every stream.
    published = _published(analytics, "processing_daily")
    processing = [r for r in published if r["stream"] != "consent"]
    events = [r for r in truth["processing_daily"] if r["stream"] != "consent"]
    assert sorted(map(_key, processing)) == sorted(map(_key, _small_cells_merged(events)))
    assert sum(r["events"] for r in processing) > 3000  # several purposes per event
    assert {_key(r) for r in truth["processing_daily"]
            if r["stream"] == "consent" and r["events"] >= K} <= set(map(_key, published))
    # consent_daily is thresholded on users with any transition (not in the truth): a row
    # with k users in one column must be there, and every published row is exact.
    consent = {_key(r) for r in _published(analytics, "consent_daily")}
    expected = {_key(r) for r in truth["consent_daily"]}
    assert consent <= expected
    assert {_key(r) for r in truth["consent_daily"]
            if max(r["granted"], r["denied"], r["withdrawn"]) >= K} <= consent


class _Lines:
    """The demo's output, line by line, with a bounded wait for a given line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()

    def wait_for(self, prefix: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return
        pytest.fail(f"no line starting {prefix!r} within {timeout} s: {''.join(self.seen)}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("moment", "sig", "started"), [
    ("topics:", signal.SIGINT, ()),  # before any process was started
    ("processes:", signal.SIGINT, ("worker", "sink")),  # workers starting, traffic generated
    ("simulate:", signal.SIGINT, ("worker", "sink")),  # waiting for workers and sink
    ("simulate:", signal.SIGTERM, ("worker", "sink")),
])
def test_interrupt_stops_what_the_demo_started_and_nothing_else(
    isolated: tuple[dict[str, str], Path], settings: Settings, moment: str, sig: int,
    started: tuple[str, ...],
) -> None:
    env, data_dir = isolated
    proc = subprocess.Popen([*CLI, "demo", "--events", "20000", "--users", "2000"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _Lines(proc).wait_for(moment, timeout=120)
        running = processes_of(data_dir)
        for name in started:
            assert any(f"pipeline.cli {name}" in cmd for cmd in running.values()), running
        proc.send_signal(sig)
        assert proc.wait(timeout=90) == 128 + sig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert processes_of(data_dir) == {}
    assert all(not Path(f"/proc/{pid}").exists() for pid in running)
    assert probe(settings)  # the broker it found running is still there
