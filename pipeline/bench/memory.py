"""The worker's memory with a large consent state (``privacy-pipeline bench memory``).

One banner answer per user is produced to the consent topic, one worker (RocksDB store by
default: the production setting) applies them all, then a sample of users browses: each of
their events must be decided from the state just built (kept for a user who granted audience
measurement, dropped for one who refused), which proves the state is there and served. The
worker's resident memory is sampled from ``/proc`` throughout; its peak comes from the kernel
when it exits.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import TopicPartition

from pipeline.bench.exceptions import BenchError, StageTimeout
from pipeline.bench.procstats import Sampler
from pipeline.bench.refs import DecisionRefs
from pipeline.bench.sandbox import Sandbox
from pipeline.bench.watch import DecisionWatcher
from pipeline.kafka import make_admin, make_producer

SAMPLE_USERS = 200
_CONSENT = ('{{"schema":"consent/1","event_id":"mem-c-{i}","user_id":"mem-user-{i}",'
            '"occurred_at":"{at}","purposes":{{"audience_measurement":{am},"advertising":false,'
            '"geolocation":false,"personalisation":true}},"source":"banner"}}')
_VIEW = ('{{"schema":"navigation/1","event_id":"mem-v-{i}","user_id":"mem-user-{i}",'
         '"occurred_at":"{at}","app":{{"name":"mm-app","platform":"ios","version":"4.2"}},'
         '"type":"screen_view","screen":"home"}}')


def grants(i: int) -> bool:
    """Whether user ``i`` granted audience measurement (two in three do)."""
    return i % 3 != 0


@dataclass
class MemoryResult:
    """What ``bench memory`` measured."""

    users: int
    store: str
    load_s: float = 0.0
    """From the worker's start to the last consent applied."""
    rss_mb: float = 0.0
    """Resident memory once the state was loaded and queried."""
    peak_rss_mb: float = 0.0
    disk_mb: float = 0.0
    """Size of the worker's table files."""
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, RSS MB) every second."""
    verified: int = 0
    """Sample users whose events were decided as their state says."""


def produce_consents(box: Sandbox, users: int, progress: Callable[[int], Any]) -> None:
    """One banner answer per user, an hour ago, acknowledged by Kafka."""
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    producer = make_producer(box.settings, linger_ms=50, batch_size=1 << 20)
    topic = box.names.consent
    try:
        for i in range(users):
            value = _CONSENT.format(i=i, at=at, am="true" if grants(i) else "false")
            producer.send(topic, key=f"mem-user-{i}".encode(), value=value.encode())
            if i % 10_000 == 9_999:
                progress(i + 1)
        producer.flush(timeout=300)
    finally:
        producer.close(timeout=30)
    progress(users)


def wait_applied(box: Sandbox, users: int, timeout: float, proc: subprocess.Popen[bytes],
                 progress: Callable[[int], Any]) -> None:
    """Until the worker group committed every consent message (all applied)."""
    admin = make_admin(box.settings)
    parts = [TopicPartition(box.names.consent, p) for p in range(box.settings.partitions)]
    deadline = time.monotonic() + timeout
    try:
        while True:
            offsets = admin.list_group_offsets({box.group: parts}).get(box.group, {})
            done = sum(max(0, o.offset) for o in offsets.values())
            progress(min(done, users))
            if done >= users:
                return
            if proc.poll() is not None:
                raise BenchError(f"the worker exited with status {proc.returncode}: "
                                 + box.log_tail("worker-1", 800))
            if time.monotonic() > deadline:
                raise StageTimeout(f"{users - done} consents not applied after {timeout:.0f} s")
            time.sleep(1.0)
    finally:
        admin.close()


def verify_sample(box: Sandbox, users: int, proc: subprocess.Popen[bytes]) -> int:
    """Send one view per sampled user; count those decided as their consent says."""
    step = max(1, users // SAMPLE_USERS)
    sample = list(range(0, users, step))[:SAMPLE_USERS]
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    with DecisionWatcher(box.settings, box.names.decisions, keep_records=True) as watcher:
        producer = make_producer(box.settings)
        for i in sample:
            producer.send(box.names.navigation, key=f"mem-user-{i}".encode(),
                          value=_VIEW.format(i=i, at=at).encode())
        producer.flush(timeout=60)
        producer.close(timeout=10)
        refs = DecisionRefs(box.settings)  # decisions carry keyed ids, not the raw event_id
        ids = {refs.ref(f"mem-v-{i}", datetime.fromisoformat(at)): f"mem-v-{i}" for i in sample}
        watcher.wait(set(ids), 0, 300.0, lambda: None if proc.poll() is None else "worker exited")
        got = {ids[r.event_id]: (r.outcomes or {}).get("audience_measurement")
               for r in watcher.records if r.event_id in ids}
    want = {f"mem-v-{i}": "kept" if grants(i) else "dropped_no_consent" for i in sample}
    return sum(got.get(k) == v for k, v in want.items())


def disk_mb(path: Path) -> float:
    """Total size of the files under ``path``, MiB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024


def run_memory(box: Sandbox, users: int, reporter: Any, timeout: float = 3600.0) -> MemoryResult:
    """Load ``users`` consent states into one worker and measure it (box already set up).

    Args:
        box: a set-up sandbox; its store setting decides the table store measured.
        users: how many users answer the banner.
        reporter: a :class:`pipeline.bench.stages.Reporter`.
        timeout: bound on the load, seconds.
    """
    result = MemoryResult(users, box.settings.worker_store)
    reporter.begin("produce one banner answer per user", users)
    produce_consents(box, users, reporter.update)
    reporter.end(f"{users:,} consents")
    reporter.begin("one worker applies them", users)
    start = time.monotonic()
    proc = box.start("worker", "--id", "1", log_name="worker-1")
    sampler = Sampler(proc.pid, interval=1.0)
    try:
        wait_applied(box, users, timeout, proc, reporter.update)
        result.load_s = time.monotonic() - start
        reporter.end(f"{users / result.load_s:,.0f} consents/s")
        reporter.begin(f"{SAMPLE_USERS} sampled users browse", None)
        result.verified = verify_sample(box, users, proc)
        now = sampler.sample()
        result.rss_mb = now.rss_mb if now is not None else 0.0
        reporter.end(f"{result.verified} decided from their stored consent")
    finally:
        sampler.stop()
        box.stop(proc)
    result.samples = sampler.samples[::5]
    result.peak_rss_mb = sampler.peak_mb
    result.disk_mb = disk_mb(box.data_dir / "worker-1")
    return result
