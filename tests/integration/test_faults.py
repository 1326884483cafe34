"""Fault injection on the real broker: every test breaks the pipeline on purpose mid-run, then
checks that the sink's final aggregates equal the simulator's ground truth.

Each test's docstring says what it injected and what it compared. "Aggregates" means all six
tables of DESIGN.md section 8: the sink's rows before the k-threshold must equal the oracle's
exactly, and every row of ``analytics.duckdb`` must equal its truth row (rows with at least k
users all published). Sizes are small so the suite stays fast; ``FAULT_TEST_EVENTS`` raises
them (the ``slow`` variant runs two workers on 5x the events).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import TopicPartition

import keys
from keys.subjectkeys import VERSION, SubjectDecryptor
from pipeline.bench.compare import Tables, from_truth, merge
from pipeline.bench.watch import DecisionWatcher
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.simulator import Message, SimulationConfig, Traffic, compute_truth, generate, produce
from pipeline.simulator.clock import default_start, floor_hour
from pipeline.sink.config import AGGREGATED_PURPOSES
from pipeline.sink.schema import open_state_readonly
from pipeline.subjectkeys import KafkaLookup, build_index, latest_records
from pipeline.topics import DECISIONS, sanitized
from tests.integration.pipeline_harness import (
    CLI,
    PipelineEnv,
    expected_inputs,
    input_topics,
    pipeline_env,
    pipeline_env_with,
    run_sink,
    sanitized_refs,
    sink_differences,
    worker_alive,
)
from tests.integration.topic_reader import read_records

EVENTS = int(os.environ.get("FAULT_TEST_EVENTS", "4000"))
SEED = int(os.environ.get("FAULT_TEST_SEED", "4242"))
WAIT_S = 240.0


@pytest.fixture
def env(tmp_path: Path, settings: Settings) -> Iterator[PipelineEnv]:
    with pipeline_env(tmp_path, settings) as e:
        # Small batches: a run spans many commits, so a kill lands mid-stream.
        e.env["PRIVACY_PIPELINE_WORKER_BATCH"] = "100"
        yield e


def simulate(now: datetime, seed: int, events: int = EVENTS, hours: int = 4) -> Traffic:
    """Simulated traffic of the last ``hours`` (about 10 events per user)."""
    return generate(SimulationConfig(max(20, events // 10), events, seed,
                                     default_start(now, hours), hours))


def truth(messages: Sequence[Message], now: datetime, policy: Path | None = None,
          **kwargs: Any) -> Tables:
    """The oracle's tables for ``messages`` produced in that order."""
    return from_truth(compute_truth(messages, load_policy(policy), now, **kwargs)["tables"])


def send(env: PipelineEnv, messages: Sequence[Message], config: SimulationConfig) -> None:
    """Produce ``messages`` in order, batch by batch (as the simulator does)."""
    producer = env.producer()
    try:
        produce(Traffic(config, tuple(messages), {}), producer, topics=input_topics(env))
    finally:
        producer.close(timeout=10)


def input_records(env: PipelineEnv) -> int:
    """Kafka records on the input topics now (fewer than the events when envelopes are on)."""
    consumer = env.consumer()
    try:
        parts = [TopicPartition(topic, p) for topic in input_topics(env).values()
                 for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def assert_equal_to_truth(env: PipelineEnv, expected: Tables) -> None:
    """The stopped sink's aggregates (partials and analytics.duckdb) equal ``expected``."""
    diffs = sink_differences(env, expected)
    assert not diffs, "aggregates differ from the ground truth:\n" + "\n".join(diffs)


def wait_until(condition: Callable[[], bool], timeout: float,
               alive: Callable[[], str | None]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        why = alive()
        assert why is None, why
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.02)


def _kill_mid_stream(env: PipelineEnv, traffic: Traffic, workers: int, store: str) -> None:
    env.env["PRIVACY_PIPELINE_WORKER_STORE"] = store
    ids, invalid = expected_inputs(traffic.messages, env)
    with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
        # Produced before the workers start: the oracle decides an event by a first consent
        # that occurred up to 30 s after it, so the pipeline must have that consent in Kafka
        # when it decides. A worker that overtook a live producer would default-deny such an
        # event of the past (the grace window holds only events younger than 30 s).
        send(env, traffic.messages, traffic.config)
        # The simulator sends envelopes as the collector does: the kill lands among them, and
        # an envelope decided but not committed is decided again whole after the restart.
        assert input_records(env) < len(traffic.messages) * 0.6
        procs = [env.start("worker", "--id", str(i), log_name=f"worker-{i}")
                 for i in range(1, workers + 1)]
        victim = procs[-1]
        wait_until(lambda: watcher.decided() >= len(ids) // 3, WAIT_S, worker_alive(env, *procs))
        os.killpg(victim.pid, signal.SIGKILL)  # no goodbye, no commit
        victim.wait(timeout=10)
        at_kill = watcher.decided()
        assert 0 < at_kill < len(ids), f"the kill did not land mid-stream ({at_kill}/{len(ids)})"
        restarted = env.start("worker", "--id", str(workers), log_name=f"worker-{workers}b")
        watcher.wait(ids, invalid, WAIT_S, worker_alive(env, *procs[:-1], restarted),
                     stall_s=90.0)


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_killed_mid_stream_then_restarted(env: PipelineEnv, workers: int) -> None:
    """Injected: kill -9 of a worker (the only one, or one of two) with the production RocksDB
    store once a third of the events were decided, then its restart on the same data directory
    (with two, its partitions move to the survivor and back). The traffic is in envelopes (a
    user's events of a batch in one record), so records in flight at the kill hold several
    events: none may be lost or counted twice. Compared: every event decided,
    and the sink's aggregates (all six tables, before and after the k-threshold) with the
    simulator's ground truth."""
    now = datetime.now(UTC)
    traffic = simulate(now, SEED + workers)
    _kill_mid_stream(env, traffic, workers, "rocksdb://")
    run_sink(env)
    assert_equal_to_truth(env, truth(traffic.messages, now))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_one_of_two_workers_killed_mid_stream_on_more_events(env: PipelineEnv) -> None:
    """Injected: kill -9 of one of two workers (in-memory store: state rebuilt from the
    changelog) on 5x the events, then its restart. Compared: every event decided, and the
    sink's aggregates with the ground truth."""
    now = datetime.now(UTC)
    traffic = simulate(now, SEED + 3, events=5 * EVENTS)
    _kill_mid_stream(env, traffic, 2, "memory://")
    run_sink(env)
    assert_equal_to_truth(env, truth(traffic.messages, now))


def _sink_messages(env: PipelineEnv) -> int:
    """Messages in the topics the sink reads (aggregated purposes and decisions)."""
    consumer = env.consumer()
    try:
        names = [env.topic(sanitized(p)) for p in AGGREGATED_PURPOSES] + [env.topic(DECISIONS)]
        parts = [TopicPartition(t, p) for t in names for p in range(env.settings.partitions)]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def _committed(data_dir: Path) -> int:
    conn = open_state_readonly(data_dir / "pipeline.duckdb")
    try:
        row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM sink_offsets").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def _sink_killed_after(env: PipelineEnv, commits: int, rng: random.Random) -> bool:
    """Run the sink and kill -9 it just after its ``commits``-th batch commit, while the next
    batch is in flight; False when it finished first."""
    proc = subprocess.Popen([*CLI, "sink", "--until-idle", "2", "--log-level", "debug"],
                            env=env.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    timer = threading_timer(proc, WAIT_S)
    try:
        assert proc.stderr is not None
        seen = 0
        for line in proc.stderr:
            seen += b"batch committed" in line
            if seen >= commits:
                time.sleep(rng.uniform(0, 0.05))
                proc.kill()
                proc.wait(timeout=10)
                return True
        proc.wait(timeout=10)
        assert proc.returncode == 0, f"sink failed with status {proc.returncode}"
        return False
    finally:
        timer.cancel()


def threading_timer(proc: subprocess.Popen[bytes], seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, proc.kill)
    timer.start()
    return timer


def test_sink_killed_mid_batch_then_restarted(env: PipelineEnv) -> None:
    """Injected: kill -9 of the sink twice, each time just after a batch commit while the next
    batch was being written (20 messages per transaction), then a clean run to idle.
    Compared: the sink's aggregates with the ground truth, and that the kills left committed
    offsets strictly between nothing and everything (they landed mid-run)."""
    now = datetime.now(UTC)
    traffic = simulate(now, SEED + 4)
    ids, invalid = expected_inputs(traffic.messages, env)
    with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        send(env, traffic.messages, traffic.config)
        watcher.wait(ids, invalid, WAIT_S, worker_alive(env, worker))
    env.env["PRIVACY_PIPELINE_SINK_BATCH_SIZE"] = "20"
    total, rng = _sink_messages(env), random.Random(SEED)
    progress = []
    for commits in (2, 3):
        assert _sink_killed_after(env, commits, rng), "the sink finished before the kill"
        progress.append(_committed(env.data_dir))
    assert all(0 < p < total for p in progress), (progress, total)
    run_sink(env)
    assert _committed(env.data_dir) == total
    assert_equal_to_truth(env, truth(traffic.messages, now))


def _key_ids(env: PipelineEnv, purpose: str) -> set[str]:
    listing = env.cli("keys", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    return {r["key_id"] for r in rows if r["purpose"] == purpose}


def _token_key(token: str) -> str:
    from keys.fieldcrypt import decode_token, token_key_id

    return token_key_id(decode_token(token)).hex()


def _subject_key(token: str) -> bytes:
    """The subject key id a version-2 field token names."""
    from keys.fieldcrypt import decode_token, token_key_id

    return token_key_id(decode_token(token, VERSION))


def _ring(env: PipelineEnv) -> keys.Keyring:
    return keys.open_keyring(env.settings, load_policy(env.settings.policy).key_specs())


def test_purpose_key_rotated_during_a_run(env: PipelineEnv) -> None:
    """Injected: `keys rotate --purpose geolocation` while the worker runs, between the two
    halves of the traffic (no restart). Compared: the sink's aggregates with the ground truth;
    the subject keys (which encrypt the coordinates) made before the rotation are wrapped by
    the old key and those made after by the new one, and every token still decrypts."""
    now = datetime.now(UTC)
    traffic = simulate(now, SEED + 5)
    batches = list(traffic.batches())
    first = [m for b in batches[: len(batches) // 2] for m in b]
    second = [m for b in batches[len(batches) // 2 :] for m in b]
    with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        for part in (first, second):
            if part is second:
                before = _key_ids(env, "geolocation")
                rotated = env.cli("keys", "rotate", "--purpose", "geolocation")
                assert rotated.returncode == 0, rotated.stderr
                time.sleep(2.5)  # > the keyring refresh interval of running workers
                made_before = set(build_index(latest_records(env.settings)))
            send(env, part, traffic.config)
            ids, invalid = expected_inputs(part, env)
            watcher.wait(ids, invalid, WAIT_S, worker_alive(env, worker))
    run_sink(env)
    assert_equal_to_truth(env, truth(traffic.messages, now))
    new = {k.lower() for k in _key_ids(env, "geolocation") - before}
    records = read_records(env, sanitized("geolocation"))
    # Coordinates are under each user's subject key, which the purpose key active when it
    # was made wraps: one made after the rotation by the new key, one made before by the old
    # (a user keeps theirs for the epoch, as with any envelope encryption).
    index = build_index(latest_records(env.settings))
    made = {_subject_key(r["enc"]["coords"]) for r in records}
    assert made <= set(index)
    used = {(k in made_before, _token_key(index[k].entry.wrapped)) for k in made}
    assert {k for old, k in used if not old} <= new != set()
    assert {k for old, k in used if old}.isdisjoint(new)
    opener = SubjectDecryptor(_ring(env), index.get)
    assert all(opener.decrypt("geolocation", "coords", r["enc"]["coords"]) for r in records)


def _day_epochs(tmp: Path) -> Path:
    """The default policy with daily key epochs for geolocation (so an epoch can end today)."""
    from importlib import resources

    text = resources.files("pipeline.policy").joinpath("default.toml").read_text()
    head, section, rest = text.partition("[purposes.geolocation]\n")
    assert section and 'epoch = "month"' in rest
    path = tmp / "policy-daily-geolocation-epochs.toml"
    path.write_text(head + section + rest.replace('epoch = "month"', 'epoch = "day"', 1))
    return path


def _users(traffic: Traffic) -> set[bytes]:
    return {m.key for m in traffic.messages}


@pytest.mark.timeout(420)
def test_epoch_destroyed_during_a_run(tmp_path: Path, settings: Settings) -> None:
    """Injected: `keys destroy --purpose geolocation --before <day>` while the worker runs
    (geolocation keys rotate daily here), between two populations' traffic spanning that
    day boundary. Compared: the sink's aggregates with the ground truth, where the second
    population's geolocation events before the boundary have no key (fail closed); the later
    data (after the boundary) is still kept; no coordinate token of the destroyed epoch
    decrypts any more and its pseudonym key is gone."""
    policy = _day_epochs(tmp_path)
    with pipeline_env_with(tmp_path, settings, POLICY=str(policy)) as env:
        env.env["PRIVACY_PIPELINE_WORKER_BATCH"] = "100"
        now = datetime.now(UTC)
        cut = (now - timedelta(hours=3)).replace(hour=0, minute=0, second=0, microsecond=0)
        start = cut - timedelta(hours=6)
        hours = int((floor_hour(now) - start) / timedelta(hours=1))
        # The first population mostly before the boundary, so every seed and time of day
        # gives it geolocation records under the epoch to destroy; the second spans it all.
        first = generate(SimulationConfig(300, 3000, SEED + 6, start, 9))
        later = generate(SimulationConfig(300, 3000, SEED + 7, start, hours))
        assert _users(first).isdisjoint(_users(later))
        with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
            worker = env.start("worker", "--id", "1", log_name="worker-1")
            for traffic in (first, later):
                if traffic is later:
                    done = env.cli("keys", "destroy", "--purpose", "geolocation", "--before",
                                   cut.date().isoformat(), "--yes")
                    assert (cut - timedelta(days=1)).date().isoformat() in done.stdout, done
                    time.sleep(2.5)  # > the keyring refresh interval of running workers
                send(env, traffic.messages, traffic.config)
                ids, invalid = expected_inputs(traffic.messages, env)
                watcher.wait(ids, invalid, WAIT_S, worker_alive(env, worker))
        run_sink(env)

        records = read_records(env, sanitized("geolocation"))
        boundary = cut.strftime("%Y-%m-%dT%H:00:00Z")
        old = [r for r in records if r["hour"] < boundary]
        later_ids = sanitized_refs(env, "geolocation", later.messages)
        new = [r for r in records if r["event_id"] in later_ids]
        assert old, "no geolocation record under the epoch to destroy: raise the event count"
        assert new and all(r["hour"] >= boundary for r in new)
        ring = _ring(env)
        opener = SubjectDecryptor(ring, KafkaLookup(env.settings))  # as `keys decrypt`
        for r in old:
            with pytest.raises(keys.KeyDestroyed):
                opener.decrypt("geolocation", "coords", r["enc"]["coords"])
        assert all(opener.decrypt("geolocation", "coords", r["enc"]["coords"]) for r in new)
        with pytest.raises(keys.NoKeyForEpoch):
            ring.pseudonym("geolocation", "any-user", cut - timedelta(hours=1))

        def has_key(purpose: str, at: datetime) -> bool:
            return not (purpose == "geolocation" and at < cut)

        expected = merge(truth(first.messages, now, policy),
                         truth(later.messages, now, policy, has_key=has_key))
        assert_equal_to_truth(env, expected)
