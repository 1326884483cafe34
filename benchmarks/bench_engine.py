"""CPU cost of ``Engine.process`` alone: µs per input record, no Kafka.

    .venv/bin/python -m benchmarks.bench_engine [--records 200000 --users 20000 --batch 1000]

Simulated traffic (fixed seed) is decided by one engine with the real keyring (file backend in
a temporary directory), in-memory tables and an outbox whose sends complete at once; the clock
follows the traffic (held events are released by later batches). Reported: process CPU time
(``time.process_time``) over the whole run divided by the input records, best of
``--repeat`` runs (this machine is shared: single runs vary by 10 % or more), and the
outcomes.
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
from processors.messages import Msg
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


def _run(work: list[tuple[list[Msg], float]]) -> tuple[float, float, Engine]:
    """CPU and wall seconds of one engine deciding ``work`` (a fresh keyring and tables)."""
    clock = [work[0][1]]
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as data:
        engine, fence = _engine(data, clock)
        loop = asyncio.new_event_loop()
        cpu, wall = time.process_time(), time.perf_counter()
        loop.run_until_complete(feed(engine.process, fence, work, clock))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        loop.close()
    return cpu, wall, engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    records = simulated(args.users, args.records, args.seed)
    work = batches(records, args.batch)
    runs = [_run(work) for _ in range(args.repeat)]
    n = len(records)
    cpu, wall, engine = min(runs, key=lambda r: r[0])
    print(f"Engine.process: {n:,} records in {len(work)} batches of {args.batch}: "
          f"CPU {cpu / n * 1e6:.1f} µs per record, best of {args.repeat} "
          f"(runs: {', '.join(f'{r[0] / n * 1e6:.1f}' for r in runs)}; "
          f"wall {wall / n * 1e6:.1f} µs)")
    outcomes: Counter[str] = Counter()
    for (_, _, outcome), count in engine.counts.items():
        outcomes[outcome] += count
    print("outcomes:", ", ".join(f"{k} {v:,}" for k, v in outcomes.most_common()))
    print(f"held at the end: {engine.held_count:,}")


if __name__ == "__main__":
    main()
