"""CPU cost of ``Engine.process`` alone: µs per input record, no Kafka.

    .venv/bin/python -m benchmarks.bench_engine [--records 200000 --users 20000 --batch 1000]

Simulated traffic (fixed seed) is decided by one engine with the real keyring (file backend in
a temporary directory), in-memory tables and an outbox whose sends complete at once; the clock
follows the traffic (held events are released by later batches). Reported: process CPU time
(``time.process_time``) over the whole run divided by the input records, and the outcomes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter

import keys
from pipeline.policy import load_policy
from pipeline.settings import Settings
from processors.context import Runtime
from processors.engine import Engine
from processors.outbox import Outbox
from processors.store import Store
from processors.subjectkeys import SubjectKeys
from processors.table import MemoryTable
from tests.support.enginefeed import NOW, GrowingFence, batches, feed, noop_send, simulated


def _engine(data: str, clock: list[float]) -> tuple[Engine, GrowingFence]:
    policy = load_policy(None)
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": data})
    ring, _ = keys.init_keyring(settings, policy.key_specs(), clock=lambda: NOW)
    rt = Runtime(policy=policy, ring=ring, clock=lambda: clock[0])
    fence = GrowingFence()
    engine = Engine(rt, Store({}, {}, {}, {}), Outbox(noop_send), fence,
                    SubjectKeys(ring, MemoryTable()))
    return engine, fence


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    records = simulated(args.users, args.records, args.seed)
    work = batches(records, args.batch)
    clock = [work[0][1]]
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as data:
        engine, fence = _engine(data, clock)
        loop = asyncio.new_event_loop()
        cpu, wall = time.process_time(), time.perf_counter()
        loop.run_until_complete(feed(engine.process, fence, work, clock))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        loop.close()
    n = len(records)
    print(f"Engine.process: {n:,} records in {len(work)} batches of {args.batch}: "
          f"CPU {cpu / n * 1e6:.1f} µs per record (wall {wall / n * 1e6:.1f} µs)")
    outcomes: Counter[str] = Counter()
    for (_, _, outcome), count in engine.counts.items():
        outcomes[outcome] += count
    print("outcomes:", ", ".join(f"{k} {v:,}" for k, v in outcomes.most_common()))
    print(f"held at the end: {engine.held_count:,}")


if __name__ == "__main__":
    main()
