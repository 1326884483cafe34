"""Bad input at volume through the real pipeline: one worker, the sink, the shared broker.

100,000 generated messages (``tests.support.adversarial``: wrong types, huge strings, deep
nesting, invalid UTF-8, re-sent event ids, timestamps at the bounds, SQL-looking screen names,
poles and antimeridian, payloads far over 64 KiB...) each labelled with what the contract
requires. Checked: the worker and the sink never crash; every invalid message is in the
dead-letter topic, at its own topic/partition/offset, with a reason; every valid one is
decided; counts reconcile (produced = kept + dropped + dead-lettered). ``FUZZ_TEST_EVENTS``
changes the volume.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.bench.compare import read_partials_at
from pipeline.bench.refs import DecisionRefs
from pipeline.bench.watch import DecisionWatcher
from pipeline.kafka import make_producer
from pipeline.settings import Settings
from pipeline.topics import DEADLETTER, DECISIONS, GEOLOCATION, NAVIGATION
from schemas import validator
from schemas.envelope import wrap
from tests.integration.pipeline_harness import PipelineEnv, pipeline_env, run_sink, worker_alive
from tests.integration.topic_reader import read_records
from tests.support.adversarial import generate
from tests.support.fuzzbase import (
    POLES,
    SQL_SCREENS,
    UNREPRESENTABLE_TIMES,
    Builder,
    Case,
    dumps,
)

EVENTS = int(os.environ.get("FUZZ_TEST_EVENTS", "100000"))
SEED = int(os.environ.get("FUZZ_TEST_SEED", "977"))
WAIT_S = 400.0
Position = tuple[str, int, int]


@pytest.fixture
def env(tmp_path: Path, settings: Settings) -> Iterator[PipelineEnv]:
    with pipeline_env(tmp_path, settings) as e:
        yield e


def produce_cases(env: PipelineEnv, cases: Sequence[Case]) -> list[Position]:
    """Send ``cases`` in order; the (topic, partition, offset) Kafka gave each."""
    producer = make_producer(env.settings, linger_ms=50, batch_size=1 << 20,
                             max_request_size=2 << 20)
    try:
        futures = [producer.send(env.topic(c.topic), key=c.key, value=c.value) for c in cases]
        producer.flush(timeout=120)
        meta = [f.get(timeout=60) for f in futures]
    finally:
        producer.close(timeout=10)
    return [(m.topic, m.partition, m.offset) for m in meta]


def _accounted(total: int) -> Any:
    """Watcher condition: every produced message got a decision or a dead letter."""
    def done(w: DecisionWatcher) -> bool:
        events = sum(r.kind == "event" for r in w.records)
        return events + len(w.invalid) >= total

    return done


def _fates(env: PipelineEnv, watcher: DecisionWatcher) -> tuple[dict[Position, str], Counter[str]]:
    """Dead-letter reason per input position; decided event ids (with multiplicity)."""
    letters = read_records(env, DEADLETTER)
    dead = {(r["topic"], r["partition"], r["offset"]): r["reason"] for r in letters}
    decided = Counter(r.event_id for r in watcher.records if r.kind == "event" and r.event_id)
    return dead, decided


def _event_id(env: PipelineEnv, case: Case) -> str | None:
    """The decision id of the case's event (decisions never carry the raw event_id)."""
    return DecisionRefs(env.settings).of_value(case.value)


def _outcome_counts(watcher: DecisionWatcher) -> Counter[str]:
    """kept / dropped / applied per decided message (kept: kept for at least one purpose)."""
    out: Counter[str] = Counter()
    for r in watcher.records:
        if r.kind != "event":
            continue
        values = set((r.outcomes or {}).values())
        out["applied" if r.stream == "consent" else "kept" if "kept" in values else "dropped"] += 1
    return out


@pytest.mark.timeout(900)
def test_100k_malformed_and_adversarial_events(env: PipelineEnv) -> None:
    cases = generate(EVENTS, SEED, datetime.now(UTC))
    with DecisionWatcher(env.settings, env.topic(DECISIONS), keep_records=True) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        positions = produce_cases(env, cases)
        watcher.wait_for(_accounted(len(cases)), WAIT_S, worker_alive(env, worker),
                         what=f"a decision or a dead letter for each of {len(cases)} messages")
        assert worker.poll() is None, env.log_text("worker-1")[-3000:]
        dead, decided = _fates(env, watcher)
        outcomes = _outcome_counts(watcher)

    invalid = [(c, p) for c, p in zip(cases, positions, strict=True) if c.expect == "invalid"]
    unlettered = Counter(c.kind for c, p in invalid if not dead.get(p))
    assert not unlettered, f"invalid messages without a dead letter and reason: {unlettered}"
    valid = [(c, p) for c, p in zip(cases, positions, strict=True) if c.expect == "valid"]
    wrongly_dead = Counter(c.kind for c, p in valid if p in dead)
    assert not wrongly_dead, f"valid messages dead-lettered: {wrongly_dead}"
    refs = DecisionRefs(env.settings)
    want = Counter(refs.of_value(c.value) for c, _ in valid)
    assert None not in want, "a valid case the worker's decoder rejects"
    assert not want - decided, f"{len(want - decided)} valid messages never decided"
    either = [(c, p) for c, p in zip(cases, positions, strict=True) if c.expect == "either"]
    decided_either = sum(p not in dead for _, p in either)
    # Reconciliation, message by message: a decision or a dead letter, never both, never none.
    assert len(dead) == len(invalid) + len(either) - decided_either
    assert sum(outcomes.values()) == len(valid) + decided_either
    assert len(cases) == outcomes["kept"] + outcomes["dropped"] + outcomes["applied"] + len(dead)
    assert outcomes["kept"] > 0 and outcomes["dropped"] > 0

    stdout = run_sink(env, timeout=300)
    assert " 0 rejected" in stdout, stdout
    tables = read_partials_at(env.data_dir)
    lettered = sum(n for (_, _, purpose, outcome), (n,) in tables["processing_daily"].items()
                   if outcome == "invalid")
    assert lettered == len(dead)
    screens = {key[3] for key in tables["navigation_hourly"]}
    assert set(SQL_SCREENS) & screens, "no SQL-looking screen name reached the aggregates"
    assert len(tables) == 6  # and every table is still there to read


def _poison(kind: str, b: Builder) -> list[dict[str, Any]]:
    if kind == "instants_beyond_utc":
        return [{**b.navigation(), "occurred_at": t} for t in UNREPRESENTABLE_TIMES]
    if kind == "payload_of_900_kb":
        return [b.navigation(debug="h" * 900_000)]
    return [b.navigation(debug="b" * 70_000) for _ in range(30)]


@pytest.mark.parametrize("kind", ["instants_beyond_utc", "payload_of_900_kb",
                                  "burst_of_30_oversize_events_on_one_partition"])
def test_poison_input_is_decided_or_dead_lettered_never_fatal(env: PipelineEnv, kind: str) -> None:
    """Valid RFC 3339 instants a UTC datetime cannot hold (year 1 at +01:00, year 9999 at
    -01:00), a 900 KB payload, or 30 oversize events in a row on one partition, then an
    ordinary event of the same user: each gets a decision or a dead letter, and the worker
    keeps running (a crash here is a poison pill: the restarted worker meets it again)."""
    b = Builder(random.Random(5), datetime.now(UTC), ["poison-user"])
    lat, lon = POLES[0]
    last = b.geolocation(lat=lat, lon=lon)
    cases = [Case(NAVIGATION, b"poison-user", dumps(e), "either", kind) for e in _poison(kind, b)]
    cases.append(Case(GEOLOCATION, b"poison-user", dumps(last), "valid", "after"))
    with DecisionWatcher(env.settings, env.topic(DECISIONS), keep_records=True) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        positions = produce_cases(env, cases)
        alive = worker_alive(env, worker)
        watcher.wait_for(_accounted(len(cases)), 120, alive,
                         what=f"a decision or a dead letter for each message ({kind})")
        time.sleep(2)  # a failed send surfaces at the worker's next flush (0.5 s timer)
        assert alive() is None, alive()
        dead, decided = _fates(env, watcher)
    lost = [c.kind for c, p in zip(cases, positions, strict=True)
            if p not in dead and not decided[_event_id(env, c)]]
    assert lost == [], "neither decided nor in the dead-letter topic"
    assert decided[_event_id(env, cases[-1])] == 1


def _envelope_cases(b: Builder, rng: random.Random) -> list[tuple[Case, list[str | None]]]:
    """Hostile and ordinary envelopes, each with the fate of each event: None (decided) or the
    start of its dead-letter reason; a message rejected whole has one fate, ``"whole: ..."``."""
    out: list[tuple[Case, list[str | None]]] = []

    def add(user: str, parts: list[tuple[bytes, str | None]], key: bytes | None = None) -> None:
        value = wrap([raw for raw, _ in parts])
        key = user.encode() if key is None else key
        out.append((Case(NAVIGATION, key, value, "either", "envelope"), [f for _, f in parts]))

    bad = {
        "unknown field": lambda u: (dumps(b.navigation(user_id=u, lat=1.0)), "lat: unknown"),
        "wrong type": lambda u: (dumps(b.navigation(user_id=u, screen=42)), "screen: expected"),
        "another user": lambda u: (dumps(b.navigation(user_id="intruder")), "user_id: not"),
        "nested": lambda u: (wrap([dumps(b.navigation(user_id=u))]), "schema: an envelope"),
        "not an object": lambda u: (b"17", "event: expected an object"),
        "other stream": lambda u: (dumps(b.consent(user=u)), "schema consent/1 does not"),
        "oversize": lambda u: (dumps(b.navigation(user_id=u, debug="d" * 70_000)), "event: "),
    }
    for n in range(60):
        user = f"env-user-{n % 12}"
        parts: list[tuple[bytes, str | None]] = []
        for _ in range(rng.randint(1, 40)):
            if rng.random() < 0.25:
                parts.append(rng.choice(list(bad.values()))(user))
            else:
                parts.append((dumps(b.navigation(user_id=user)), None))
            if sum(len(raw) for raw, _ in parts) > 800_000:  # under 1 MiB: Kafka takes it
                parts.pop()
                break
        add(user, parts)
    full = [(dumps(b.navigation(user_id="env-full")), None) for _ in range(500)]
    add("env-full", full)  # the event limit exactly
    for raw, reason in [
        (b'{"schema":"batch/1","events":[]}', "events: expected a non-empty array"),
        (b'{"schema":"batch/1","events":{}}', "events: expected an array"),
        (b'{"schema":"batch/1","events":[{}],"user":"x"}', "user: unknown field"),
        (wrap([b"1"] * 501), "events: expected an array of at most 500"),
    ]:  # (over 1 MiB: the broker refuses it before the worker could; see the unit tests)
        out.append((Case(NAVIGATION, b"env-x", raw, "invalid", "envelope"), [f"whole: {reason}"]))
    keyless = wrap([dumps(b.navigation(user_id="env-x"))] * 2)
    out.append((Case(NAVIGATION, b"", keyless, "invalid", "envelope"), ["whole: envelope: the"]))
    return out


def test_hostile_envelopes_each_event_decided_or_dead_lettered_alone(env: PipelineEnv) -> None:
    """Injected: envelopes mixing valid events with invalid ones (unknown or mistyped fields,
    another user's event, a nested envelope, a consent event, an event over 64 KiB), one at
    the 500-event limit, and malformed envelopes (empty, not an array, unknown field, 501
    events, no key). Compared: every valid event decided exactly once; every
    invalid event dead-lettered on its own with a reason naming its index; a malformed
    envelope dead-lettered once, whole; the worker keeps running."""
    rng = random.Random(SEED)
    b = Builder(rng, datetime.now(UTC), ["unused"])
    planned = _envelope_cases(b, rng)
    cases = [case for case, _ in planned]
    valid = sum(fate is None for _, fates in planned for fate in fates)
    letters = sum(fate is not None for _, fates in planned for fate in fates)
    with DecisionWatcher(env.settings, env.topic(DECISIONS), keep_records=True) as watcher:
        worker = env.start("worker", "--id", "1", log_name="worker-1")
        positions = produce_cases(env, cases)
        watcher.wait_for(_accounted(valid + letters), 120, worker_alive(env, worker),
                         what=f"{valid} decisions and {letters} dead letters")
        time.sleep(1)
        assert worker.poll() is None, env.log_text("worker-1")[-3000:]
        dead_letters = read_records(env, DEADLETTER)
        decided = Counter(r.event_id for r in watcher.records if r.kind == "event")
    reasons: dict[Position, list[str]] = {}
    for r in dead_letters:
        reasons.setdefault((r["topic"], r["partition"], r["offset"]), []).append(r["reason"])
    refs = DecisionRefs(env.settings)
    for (case, fates), position in zip(planned, positions, strict=True):
        got = sorted(reasons.get(position, []))
        if fates[0] is not None and fates[0].startswith("whole: "):
            assert len(got) == 1 and got[0].startswith(fates[0].removeprefix("whole: ")), got
            continue
        want = sorted(f"envelope event {i}: {fate}" for i, fate in enumerate(fates) if fate)
        assert len(got) == len(want), (got, want)
        assert all(g.startswith(w) for g, w in zip(got, want, strict=True)), (got, want)
        for item in validator.decode_message(case.value, case.key):
            if fates[item.index or 0] is None:
                assert decided[refs.of_value(item.raw)] == 1
    assert len(dead_letters) == letters
