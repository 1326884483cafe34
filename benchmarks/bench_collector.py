"""Throughput and latency of the HTTP collector on loopback, against the real broker.

Run: ``.venv/bin/python -m benchmarks.bench_collector [--clients 8] [--seconds 15]``.

Starts ``privacy-pipeline collector`` in its own process (request log at warning) on the three
input topics under a fresh uuid ``PRIVACY_PIPELINE_TOPIC_PREFIX`` (``PRIVACY_PIPELINE_PARTITIONS``
partitions each), then runs ``--clients`` concurrent asyncio clients that each POST batches of
``--batch`` valid navigation/geolocation events (70/30) back to back. Every 202 means Kafka
acknowledged the whole batch (acks=all, idempotent). Prints accepted events/s, the
p50/p99/max request latency over the measured window (after a warm-up) and the collector
process's CPU per event (a figure that other loads on a shared machine disturb less than
throughput), as one JSON line.
Topics are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from pipeline.collector.auth import hash_key, new_key
from pipeline.kafka import make_admin
from pipeline.settings import Settings
from pipeline.topics import TopicNames

CLI = str(Path(sys.executable).with_name("privacy-pipeline"))
SCREENS = ["home", "contracts", "claims/new", "claims/status", "profile", "documents", "help"]


def make_batches(count: int, size: int, rng: random.Random) -> list[bytes]:
    """``count`` pre-encoded batches of ``size`` valid events (unique event ids)."""
    app = {"name": "mm-app", "platform": "ios", "version": "4.2.1"}
    batches = []
    for b in range(count):
        events: list[dict[str, Any]] = []
        for i in range(size):
            common = {"event_id": f"bench-{b}-{i}-{uuid.uuid4().hex[:8]}",
                      "user_id": f"C-{rng.randrange(10**6):06d}",
                      "occurred_at": "2026-11-26T10:15:00.123456+01:00", "app": app,
                      "session_id": f"s-{rng.getrandbits(32):08x}"}
            if rng.random() < 0.7:
                events.append({"schema": "navigation/1", "type": "screen_view",
                               "screen": rng.choice(SCREENS), **common})
            else:
                events.append({"schema": "geolocation/1", "lat": rng.uniform(42, 51),
                               "lon": rng.uniform(-4, 8), "accuracy_m": 12.5, **common})
        batches.append(msgspec.json.encode(events))
    return batches


async def client_loop(url: str, key: str, batches: list[bytes], stop_at: float,
                      warm_until: float, latencies: list[float], counts: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        i = random.randrange(len(batches))  # noqa: S311 (benchmark data)
        while (now := time.perf_counter()) < stop_at:
            response = await http.post("/v1/events", content=batches[i % len(batches)])
            i += 1
            elapsed = time.perf_counter() - now
            if now < warm_until:
                continue
            if response.status_code == 202:
                latencies.append(elapsed)
                counts["events"] += response.json()["accepted"]
            else:
                counts[f"status_{response.status_code}"] = counts.get(
                    f"status_{response.status_code}", 0) + 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sample_cpu(pid: int, warm_until: float, stop_at: float) -> float:
    """CPU seconds ``pid`` used between ``warm_until`` and ``stop_at``."""
    await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
    before = cpu_seconds(pid)
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
    return cpu_seconds(pid) - before


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run_clients(
    url: str, key: str, server_pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    batches = make_batches(64, args.batch, random.Random(7))  # noqa: S311
    start = time.perf_counter()
    warm_until, stop_at = start + args.warmup, start + args.warmup + args.seconds
    latencies: list[float] = []
    counts = {"events": 0}
    server_cpu = asyncio.create_task(sample_cpu(server_pid, warm_until, stop_at))
    client_cpu = asyncio.create_task(sample_cpu(os.getpid(), warm_until, stop_at))
    await asyncio.gather(*(client_loop(url, key, batches, stop_at, warm_until, latencies, counts)
                           for _ in range(args.clients)))
    cpu, own_cpu = await server_cpu, await client_cpu
    return {
        "clients": args.clients, "batch": args.batch, "seconds": args.seconds,
        "events_per_s": round(counts["events"] / args.seconds),
        "requests_per_s": round(len(latencies) / args.seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "server_cpu_cores": round(cpu / args.seconds, 2),
        "server_cpu_us_per_event": round(cpu / max(1, counts["events"]) * 1e6, 1),
        "client_cpu_cores": round(own_cpu / args.seconds, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "errors": {k: v for k, v in counts.items() if k != "events"},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], bound_s: float = 30.0) -> None:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the collector process exited; see its output above")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the collector was not healthy within {bound_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured warm-up")
    args = parser.parse_args()

    settings = Settings.from_env()
    prefix = f"bench-collector-{uuid.uuid4().hex[:12]}."
    topics = list(TopicNames(prefix).inputs)
    admin = make_admin(settings)
    admin.create_topics({t: {"num_partitions": settings.partitions, "replication_factor": -1}
                         for t in topics})
    key, port = new_key(), free_port()
    env = os.environ | {"PRIVACY_PIPELINE_COLLECTOR_KEYS": f"bench:{hash_key(key)}",
                        "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix,
                        "PRIVACY_PIPELINE_COLLECTOR_RATE": "10000000",
                        "PRIVACY_PIPELINE_COLLECTOR_BURST": "10000000"}
    # The real command, as operators run it (fixed argv, no shell).
    server = subprocess.Popen(  # noqa: S603
        [CLI, "collector", "--port", str(port), "--log-level", "warning"], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        result = asyncio.run(run_clients(url, key, server.pid, args))
        print(json.dumps(result))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        admin.delete_topics(topics, raise_errors=False)
        admin.close()


if __name__ == "__main__":
    main()
