"""One consent worker against the real broker: throughput, raw ceiling, consent-to-effect latency.

    .venv/bin/python -m benchmarks.bench_worker --events 100000 --users 10000

1. Simulated traffic (fixed seed) is produced to fresh prefixed topics.
2. Raw ceiling: a plain kafka-python consumer reads and decodes the same input topics (best of
   three reads). faust floor: a faust agent with the worker's set-up only takes and acks the
   same records (``faust_floor.py``): the most any faust worker of this design can do here.
3. One worker (``privacy-pipeline worker``) drains the backlog; throughput is decided input
   events per second from its first to its last decision (startup excluded, and reported).
4. Latency under load: while events keep arriving at a steady rate, withdrawals are produced
   for probe users who keep browsing; the latency is the time from the withdrawal's
   acknowledgement to the first decision that drops one of the user's events for it. The
   background users answered the banner (``--unanswered-load``: they never did, so each of
   their events is held for the grace window).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from pipeline.kafka import make_admin
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.simulator import SimulationConfig, generate, produce
from pipeline.simulator.clock import default_start
from pipeline.topics import TopicNames, all_specs, ensure_topics
from schemas.exceptions import InvalidEvent
from schemas.validator import decode

APP = {"name": "mm-mobile", "platform": "ios", "version": "1.0"}
_LOAD_USERS = 5000


def _setup(prefix: str, data: Path) -> tuple[Settings, dict[str, str]]:
    env = {
        **os.environ,
        "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix,
        "PRIVACY_PIPELINE_DATA_DIR": str(data),
        "PRIVACY_PIPELINE_ACTOR": "bench",
    }
    settings = Settings.from_env(env)
    admin = make_admin(settings)
    ensure_topics(admin, all_specs(settings, load_policy().purposes))  # under the prefix
    admin.close()
    subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "keys", "init"],
        env=env,
        check=True,
        capture_output=True,
    )
    return settings, env


def _ceiling(settings: Settings, topics: list[str], expected: int) -> float:
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_list,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=52428800,
    )
    n, start = 0, time.perf_counter()
    while n < expected:
        for records in consumer.poll(timeout_ms=1000).values():
            for r in records:
                with contextlib.suppress(InvalidEvent):  # malformed input counts as decoded
                    decode(r.value)
                n += 1
    elapsed = time.perf_counter() - start
    consumer.close()
    return n / elapsed


def _faust_floor(env: dict[str, str], expected: int) -> tuple[float, float]:
    """Records/s and CPU µs/record of an agent that only takes and acks (``faust_floor.py``)."""
    done = subprocess.run(  # noqa: S603 - our own module, our interpreter
        [sys.executable, str(Path(__file__).with_name("faust_floor.py"))],
        env={**env, "BENCH_FLOOR_EXPECTED": str(expected), "PRIVACY_PIPELINE_WORKER_ID": "floor"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # faust's worker sends stdout to its log (stderr): the JSON line follows a log prefix.
    output = (done.stdout + done.stderr).splitlines()
    found = [line[line.index("{") :] for line in output if '{"records"' in line]
    if not found:
        raise SystemExit(f"faust floor run failed: {done.stderr.strip().splitlines()[-1:]}")
    result = json.loads(found[-1])
    records = float(result["records"])
    return records / max(float(result["seconds"]), 1e-9), float(result["cpu"]) / records * 1e6


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DecisionWatcher(threading.Thread):
    """Follows pipeline.decisions.v1: when each event got decided, and how."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=settings.bootstrap_list,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.decided: dict[str, float] = {}
        self.withdrawn_at: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=200).values():
                now = time.monotonic()
                for r in records:
                    for rec in json.loads(r.value)["records"]:
                        if rec.get("kind") != "event":
                            continue
                        eid = rec["event_id"]
                        self.decided.setdefault(eid, now)
                        if rec["outcomes"].get("audience_measurement") == "dropped_withdrawn":
                            probe = eid.split(":")[0]
                            self.withdrawn_at.setdefault(probe, now)
        self.consumer.close()


def _latency(
    settings: Settings,
    prefix: str,
    watcher: DecisionWatcher,
    probes: int,
    rate: float,
    load_answered: bool = True,
) -> tuple[list[float], float]:
    """Withdrawal-to-effect latencies (s) of the probes, and the input events/s achieved."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all", linger_ms=5)
    nav, con = TopicNames(prefix).navigation, TopicNames(prefix).consent
    now = datetime.now(UTC)

    def send(topic: str, event: dict[str, Any]) -> Any:
        return producer.send(topic, key=event["user_id"].encode(), value=json.dumps(event).encode())

    def grant(user: str) -> None:  # a banner answer five minutes ago
        send(
            con,
            {
                "schema": "consent/1",
                "event_id": f"g-{user}",
                "user_id": user,
                "occurred_at": (now - timedelta(minutes=5)).isoformat(),
                "purposes": {"audience_measurement": True},
                "source": "banner",
            },
        )

    users = [f"probe{i}" for i in range(probes)]
    # The background users answered the banner (as returning users have), unless asked
    # otherwise: events of users without any answer are held for the grace window instead.
    if load_answered:
        for i in range(_LOAD_USERS):
            grant(f"load{i}")
        producer.flush()
        time.sleep(3)  # their 5,000 answers are applied before the first withdrawal is timed
    for u in users:
        grant(u)
    producer.flush()
    latencies: list[float] = []
    seq = 0
    started = time.monotonic()
    for u in users:
        t_event = datetime.now(UTC)
        send(
            con,
            {
                "schema": "consent/1",
                "event_id": f"w-{u}",
                "user_id": u,
                "occurred_at": t_event.isoformat(),
                "purposes": {"audience_measurement": False},
                "source": "app_settings",
            },
        ).get(timeout=30)
        acked = time.monotonic()
        deadline = acked + 30
        while u not in watcher.withdrawn_at and time.monotonic() < deadline:
            seq += 1
            at = (datetime.now(UTC) + timedelta(milliseconds=1)).isoformat()
            send(
                nav,
                {
                    "schema": "navigation/1",
                    "event_id": f"{u}:{seq}",
                    "user_id": u,
                    "occurred_at": at,
                    "app": APP,
                    "type": "screen_view",
                    "screen": "home",
                },
            )
            # Background load from other users at the requested rate.
            for _ in range(max(1, int(rate / 20))):
                seq += 1
                send(
                    nav,
                    {
                        "schema": "navigation/1",
                        "event_id": f"load:{seq}",
                        "user_id": f"load{seq % _LOAD_USERS}",
                        "occurred_at": at,
                        "app": APP,
                        "type": "screen_view",
                        "screen": "contracts",
                    },
                )
            time.sleep(0.05)
        if u in watcher.withdrawn_at:
            latencies.append(watcher.withdrawn_at[u] - acked)
    producer.close()
    return latencies, seq / (time.monotonic() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--rate", type=float, default=2000.0, help="background events/s in phase 4")
    ap.add_argument(
        "--unanswered-load",
        action="store_true",
        help="background users never answer the banner: their events are held (grace window)",
    )
    args = ap.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    data = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    settings, env = _setup(prefix, data)
    now = datetime.now(UTC)
    traffic = generate(SimulationConfig(args.users, args.events, 7, default_start(now, 24), 24))
    topics = TopicNames(prefix).inputs_by_contract()
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_list,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=262144,
    )
    t0 = time.perf_counter()
    produce(traffic, producer, topics=topics)
    producer.close()
    print(f"produced {args.events} events in {time.perf_counter() - t0:.1f} s")

    # Best of three: single reads of the same data vary by up to 2x on this shared machine.
    runs = [_ceiling(settings, list(topics.values()), args.events) for _ in range(3)]
    ceiling = max(runs)
    print(
        f"raw ceiling (kafka-python consume + decode, best of 3): {ceiling:,.0f} events/s "
        f"(runs: {', '.join(f'{r:,.0f}' for r in runs)})"
    )
    floor, floor_cpu = _faust_floor(env, args.events)
    print(
        f"faust floor (the worker's faust set-up, records only taken and acked): "
        f"{floor:,.0f} records/s ({floor / ceiling:.0%} of the raw ceiling), "
        f"CPU {floor_cpu:.0f} µs per record"
    )

    wanted = {
        json.loads(m.value)["event_id"]
        for m in traffic.messages
        if m.malformed is None and m.topic != "privacy.consent.v1"
    }
    watcher = DecisionWatcher(settings, TopicNames(prefix).decisions)
    watcher.start()
    log = open(data / "worker.log", "wb")  # noqa: SIM115
    started = time.monotonic()
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--id", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if os.environ.get("BENCH_PYSPY"):  # profile the worker while it drains the backlog
        subprocess.Popen(  # noqa: S603 - the profiler path comes from the operator's env
            [
                os.environ["BENCH_PYSPY"],
                "record",
                "-p",
                str(worker.pid),
                "-d",
                "40",
                "--threads",
                "--gil",
                "-f",
                "raw",
                "-o",
                str(data / "worker.stacks"),
            ]
        )
    try:
        cpu_first = None
        while not wanted <= watcher.decided.keys() and time.monotonic() - started < 900:
            time.sleep(0.2)
            if cpu_first is None and watcher.decided:
                cpu_first = _cpu_seconds(worker.pid)
        cpu_used = _cpu_seconds(worker.pid) - (cpu_first or 0.0)
        done = [watcher.decided[e] for e in wanted if e in watcher.decided]
        first, last = min(done), max(done)
        inputs = args.events  # every input record (consent, events, malformed) was handled
        rate = inputs / max(last - first, 1e-9)
        print(
            f"worker: {len(done)}/{len(wanted)} events decided; startup {first - started:.1f} s; "
            f"{rate:,.0f} input records/s ({rate / ceiling:.0%} of the raw ceiling); "
            f"worker CPU {cpu_used / inputs * 1e6:.0f} µs per record "
            f"(= {inputs / cpu_used:,.0f} records/s per core)"
        )
        latencies, achieved = _latency(
            settings, prefix, watcher, args.probes, args.rate, not args.unanswered_load
        )
        lat = sorted(latencies)
        if lat:
            p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
            print(
                f"consent-to-effect latency over {len(lat)} withdrawals at {achieved:,.0f} ev/s: "
                f"p50 {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
            )
        if len(lat) < args.probes:
            print(f"{args.probes - len(lat)} withdrawals not in effect within 30 s")
    finally:
        watcher.stop.set()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        admin = make_admin(settings)
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        admin.close()


if __name__ == "__main__":
    main()
