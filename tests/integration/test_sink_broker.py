"""The sink on the real broker: kill -9 at random points, duplicates, shards, analysts, leaks.

Synthetic processor output (``tests.support.synthetic``, 50,000 events, about 110,000
records) is produced once per module to uuid-prefixed topics; every run of the sink is a
subprocess (``python -m pipeline.cli sink``) on its own data directory.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka.admin import KafkaAdminClient

from pipeline.kafka import make_producer
from pipeline.settings import Settings
from pipeline.sink.config import AGGREGATED_PURPOSES, SinkTopics
from pipeline.sink.published import TABLES, read_partials
from pipeline.sink.schema import open_state_readonly
from pipeline.sink.target import AnalyticsTarget
from tests.support.leakscan import scan
from tests.support.synthetic import Synthetic, generate, messages, observed

EVENTS = 50_000
PARTITIONS = 6
RUN_TIMEOUT_S = 90
SEED = int(os.environ.get("SINK_TEST_SEED", "20261126"))


def _create(admin: KafkaAdminClient, topics: SinkTopics) -> None:
    admin.create_topics({t: {"num_partitions": PARTITIONS, "replication_factor": -1,
                             "configs": {}} for t in topics.all()}, wait_for_metadata=True)


def _produce(settings: Settings, topics: SinkTopics, data: Synthetic, per_message: int) -> int:
    producer = make_producer(settings, linger_ms=20, batch_size=1 << 20)
    sent = 0
    streams = [(topics.sanitized[p], recs) for p, recs in data.sanitized.items()]
    for topic, records in [*streams, (topics.decisions, data.decisions)]:
        for part, group in messages(records, per_message):
            value = group[0] if per_message == 1 else {"records": group}
            producer.send(topic, json.dumps(value).encode(), partition=part)
            sent += 1
    producer.flush()
    producer.close()
    return sent


@pytest.fixture(scope="module")
def data() -> Synthetic:
    """The processors' output for 50,000 events, and its exact aggregates."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return generate(EVENTS, 1000, PARTITIONS, seed=SEED, now=now)


@pytest.fixture(scope="module")
def once(settings: Settings, admin: KafkaAdminClient, data: Synthetic) -> Iterator[tuple[str, int]]:
    """Topics holding every record once: (prefix, message count)."""
    prefix = f"test-sink-{uuid.uuid4().hex}-"
    topics = SinkTopics.for_purposes(list(AGGREGATED_PURPOSES), prefix)
    _create(admin, topics)
    yield prefix, _produce(settings, topics, data, per_message=20)
    admin.delete_topics(topics.all(), raise_errors=False)


@pytest.fixture(scope="module")
def twice(
    settings: Settings, admin: KafkaAdminClient, data: Synthetic
) -> Iterator[tuple[str, int]]:
    """Topics holding every record twice, as a re-emitting worker would (same partitions,
    grouped differently): (prefix, message count)."""
    prefix = f"test-sink-dup-{uuid.uuid4().hex}-"
    topics = SinkTopics.for_purposes(list(AGGREGATED_PURPOSES), prefix)
    _create(admin, topics)
    sent = _produce(settings, topics, data, per_message=20)
    sent += _produce(settings, topics, data, per_message=50)
    yield prefix, sent
    admin.delete_topics(topics.all(), raise_errors=False)


def _sink(prefix: str, data_dir: Path, *args: str, level: str = "warning",
          batch: int = 100, policy: Path | None = None) -> subprocess.Popen[bytes]:
    extra = {} if policy is None else {"PRIVACY_PIPELINE_POLICY": str(policy)}
    env = dict(os.environ, **extra, PRIVACY_PIPELINE_DATA_DIR=str(data_dir),
               PRIVACY_PIPELINE_ANALYTICS_DIR=str(AnalyticsTarget.beside(data_dir).directory),
               PRIVACY_PIPELINE_TOPIC_PREFIX=prefix,
               # Transactions of ~2,000 records: a run spans dozens of commits to kill into.
               PRIVACY_PIPELINE_SINK_BATCH_SIZE=str(batch),
               PRIVACY_PIPELINE_SINK_PUBLISH_INTERVAL_S="0.3")
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "sink", *args,
                             "--log-level", level], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=RUN_TIMEOUT_S)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]


def _committed(data_dir: Path) -> int:
    """Messages whose offsets the sink committed (its process must be dead)."""
    path = data_dir / "pipeline.duckdb"
    if not path.exists():
        return 0
    conn = open_state_readonly(path)
    try:
        row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM sink_offsets").fetchone()
        return 0 if row is None else int(row[0])
    finally:
        conn.close()


def _partials(data_dir: Path, name: str = "pipeline.duckdb") -> dict[str, Any]:
    conn = open_state_readonly(data_dir / name)
    try:
        return observed(read_partials(conn))
    finally:
        conn.close()


def _analytics(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = duckdb.connect(str(AnalyticsTarget.beside(data_dir).path), read_only=True)
    try:
        return {t.name: conn.execute(f"SELECT * FROM {t.name} ORDER BY ALL").fetchall()  # noqa: S608
                for t in TABLES}
    finally:
        conn.close()


class Analyst:
    """Opens analytics.duckdb read-only in a loop while the sink runs; counts refusals."""

    def __init__(self, path: Path) -> None:
        self.path, self.opened, self.errors = path, 0, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.path.exists():
                try:
                    conn = duckdb.connect(str(self.path), read_only=True)
                    conn.execute("SELECT count(*) FROM navigation_hourly").fetchall()
                    conn.close()
                    self.opened += 1
                except duckdb.Error as exc:
                    self.errors.append(repr(exc))
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _kill_after_commits(process: subprocess.Popen[bytes], commits: int) -> bool:
    """kill -9 ``process`` once it logged ``commits`` batch commits; False if it ended first."""
    assert process.stderr is not None
    seen = 0
    for line in process.stderr:
        if b"batch committed" in line:
            seen += 1
            if seen >= commits:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                return True
    process.wait(timeout=10)
    assert process.returncode == 0, f"sink failed with status {process.returncode}"
    return False


def _run_with_kills(prefix: str, data_dir: Path, total: int, rng: random.Random,
                    batch: int = 100) -> list[int]:
    """Run the sink to completion, kill -9 it after a random number of commits each time;
    returns the committed message count found after each kill."""
    progress: list[int] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    for _ in range(5):
        process = _sink(prefix, data_dir, "--until-idle", "2", level="debug", batch=batch)
        timer = threading.Timer(max(1.0, deadline - time.monotonic()), process.kill)
        timer.start()
        try:
            killed = _kill_after_commits(process, rng.randint(1, 12))
        finally:
            timer.cancel()
        if not killed:
            return progress
        progress.append(_committed(data_dir))
    _finish(_sink(prefix, data_dir, "--until-idle", "2", batch=batch))
    return progress


@pytest.fixture(scope="module")
def reference(once: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run over the once-topics."""
    data_dir = tmp_path_factory.mktemp("reference")
    _finish(_sink(once[0], data_dir, "--until-idle", "2"))
    return data_dir


def test_uninterrupted_run_is_exact(
    reference: Path, once: tuple[str, int], data: Synthetic
) -> None:
    assert _committed(reference) == once[1]
    assert _partials(reference) == data.expected


def test_kill9_at_random_points_equals_uninterrupted_run(
    once: tuple[str, int], reference: Path, data: Synthetic, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    analyst = Analyst(AnalyticsTarget.beside(tmp_path).path)
    try:
        progress = _run_with_kills(once[0], tmp_path, once[1], rng)
    finally:
        analyst.stop()
    mid_run = [p for p in progress if 0 < p < once[1]]
    assert len(mid_run) >= 3, f"kills did not land mid-run: {progress} of {once[1]} (seed {SEED})"
    assert _partials(tmp_path) == _partials(reference) == data.expected
    assert _analytics(tmp_path) == _analytics(reference)
    assert analyst.errors == [] and analyst.opened > 0


def test_duplicated_input_with_kills_counts_once(
    twice: tuple[str, int], reference: Path, data: Synthetic, tmp_path: Path
) -> None:
    progress = _run_with_kills(twice[0], tmp_path, twice[1], random.Random(SEED + 1))
    assert any(0 < p < twice[1] for p in progress), progress
    assert _committed(tmp_path) == twice[1]
    assert _partials(tmp_path) == data.expected
    assert _analytics(tmp_path) == _analytics(reference)


def test_shards_merge_to_the_single_sink_result(
    once: tuple[str, int], reference: Path, data: Synthetic, tmp_path: Path
) -> None:
    shards = [_sink(once[0], tmp_path, "--shard", f"{i}/2", "--until-idle", "2") for i in range(2)]
    for process in shards:
        _finish(process)
    merged: dict[str, dict[tuple[Any, ...], list[int]]] = {}
    for i in range(2):
        for table, rows in _partials(tmp_path, f"pipeline-{i}.duckdb").items():
            for key, counts in rows.items():
                slot = merged.setdefault(table, {}).setdefault(key, [0] * len(counts))
                slot[:] = [a + b for a, b in zip(slot, counts, strict=True)]
    summed = {t: {k: tuple(v) for k, v in rows.items()} for t, rows in merged.items()}
    assert summed == data.expected
    env = dict(os.environ, PRIVACY_PIPELINE_DATA_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-m", "pipeline.cli", "sink", "publish", "--shards", "2"],
                   env=env, check=True, capture_output=True, timeout=RUN_TIMEOUT_S)
    assert _analytics(tmp_path) == _analytics(reference)


def test_sigterm_finishes_the_batch_publishes_and_exits_0(
    once: tuple[str, int], tmp_path: Path
) -> None:
    process = _sink(once[0], tmp_path, level="debug")
    assert process.stderr is not None
    for line in process.stderr:
        if b"batch committed" in line:
            process.send_signal(signal.SIGTERM)
            break
    _, err = process.communicate(timeout=RUN_TIMEOUT_S)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    # Published at exit, with what the committed offsets cover (a part of the topics).
    assert 0 < _committed(tmp_path) < once[1]
    published = _analytics(tmp_path)
    assert published["processing_daily"]


def test_no_identifier_in_either_database(reference: Path, data: Synthetic) -> None:
    raw = data.raw
    identifiers = raw.user_ids + raw.device_ids + raw.ips
    assert scan(reference / "pipeline.duckdb", identifiers + raw.pseudonyms, raw.coordinates) == []
    assert scan(AnalyticsTarget.beside(reference).path, identifiers + raw.pseudonyms,
                raw.coordinates) == []
    # The scan is not blind: the analysts' file does hold the published dimensions.
    assert scan(AnalyticsTarget.beside(reference).path, ["screen-1"]) != []


DP_TABLE = """[publication.tables.navigation_daily]
mode = "dp"
budget = "navigation"
share = 1.0
max_views_per_day = 100
max_cells_per_day = 40

[publication.budgets.navigation]
epsilon = 50.0
delta = 1e-6
"""


def _dp_policy(path: Path) -> Path:
    text = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")
    old = '[publication.tables.navigation_daily]\nmode = "threshold"\n'
    assert text.count(old) == 1
    text = text.replace("release_after_hours = 2", "release_after_hours = 0")
    path.write_text(text.replace(old, DP_TABLE), encoding="utf-8")
    return path


def _dp_state(data_dir: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    out = duckdb.connect(str(AnalyticsTarget.beside(data_dir).path), read_only=True)
    try:
        rows = out.execute("SELECT * FROM navigation_daily ORDER BY ALL").fetchall()
        pub = out.execute("SELECT mode, sigma, sigma_counts, threshold, released_through "
                          "FROM publication "
                          "WHERE \"table\" = 'navigation_daily'").fetchall()
    finally:
        out.close()
    conn = open_state_readonly(data_dir / "pipeline.duckdb")
    try:
        (ledger,) = conn.execute("SELECT count(*) FROM dp_ledger").fetchall()[0]
    finally:
        conn.close()
    return rows, pub, int(ledger)


def test_dp_table_is_released_once_and_republished_unchanged(
    once: tuple[str, int], data: Synthetic, tmp_path: Path
) -> None:
    policy = _dp_policy(tmp_path / "policy.toml")
    today = datetime.now(UTC).date()
    _finish(_sink(once[0], tmp_path / "run", "--until-idle", "2", policy=policy))
    rows, pub, ledger = _dp_state(tmp_path / "run")
    ((mode, sigma, sigma_counts, threshold, released_through),) = pub
    truth = data.expected["navigation_daily"]
    complete = {k[0] for k in truth if k[0] < today}
    assert mode == "dp" and ledger == len(complete) and released_through == max(complete)
    assert rows and {r[0] for r in rows} <= complete, "an open day was released"
    for day, app, platform, screen, views, visitors, anonymous in rows:
        true_views, true_visitors, _ = truth[(day, app, platform, screen)]
        assert abs(visitors - true_visitors) <= 5 * sigma and visitors >= threshold
        assert abs(views - true_views) <= 5 * sigma_counts and anonymous is None
    # a second process over the same state: nothing new, the release republished unchanged
    # (a day that ended meanwhile, if the test crossed midnight, is released beside it)
    _finish(_sink(once[0], tmp_path / "run", "--until-idle", "2", policy=policy))
    again, _, ledger_again = _dp_state(tmp_path / "run")
    assert [r for r in again if r[0] < today] == rows
    assert ledger_again == ledger + (datetime.now(UTC).date() != today)
