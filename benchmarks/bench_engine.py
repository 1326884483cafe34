"""The consent engine alone: CPU per input record, no Kafka (real keyring, dict tables).

    .venv/bin/python -m benchmarks.bench_engine --events 50000 --users 5000

Simulated traffic (fixed seed, the simulator's envelopes and malformed share) is decided by
:class:`processors.engine.Engine` in batches of ``--batch`` records, as the worker hands them
over, with a real keyring (temporary directory), in-memory tables and an outbox whose sends
complete at once (the encoding of every output is included). Reports CPU µs per input record
(``time.process_time``, best of ``--repeat`` runs on fresh engines) and the outputs' bytes, so
two builds can be compared on the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keys
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.simulator import SimulationConfig, generate
from pipeline.simulator.clock import default_start
from processors.context import Runtime, TopicNames
from processors.engine import Engine
from processors.messages import Msg
from processors.outbox import Outbox
from processors.store import Store
from processors.subject import partition_of

PARTITIONS = 6


class _Fence:
    """Positions over the generated log: nothing skipped, every record delivered."""

    def __init__(self, log: dict[tuple[str, int], list[Msg]]) -> None:
        self.log = log

    async def end_offsets(self, topic: str, partitions: Any) -> dict[int, int]:
        return {p: len(self.log.get((topic, p), [])) for p in partitions}

    async def committed(self, topic: str, partition: int) -> int:
        return 0

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]:
        return self.log.get((topic, partition), [])[start:end]

    async def read_ranges(self, topic: str, ranges: dict[int, tuple[int, int]]) -> list[Msg]:
        return [m for p, (s, e) in ranges.items() for m in await self.read(topic, p, s, e)]


def _messages(events: int, users: int) -> tuple[list[Msg], float, Any]:
    start = default_start(datetime.now(UTC), 24)
    traffic = generate(SimulationConfig(users=users, events=events, seed=7, start=start,
                                        hours=24))
    offsets: dict[tuple[str, int], int] = {}
    out: list[Msg] = []
    for m in traffic.messages:
        p = partition_of(m.key.decode(), PARTITIONS)
        offset = offsets.get((m.topic, p), 0)
        offsets[(m.topic, p)] = offset + 1
        out.append(Msg(m.topic, p, offset, m.key, m.value))
    end = start + timedelta(hours=24, minutes=10)
    return out, end.timestamp(), start


def _run(msgs: list[Msg], now: float, ring: Any, batch: int) -> tuple[float, int, int]:
    sent = [0, 0]

    async def send(topic: str, partition: int, value: bytes | None,
                   key: bytes | None = None) -> Any:
        sent[0] += 1
        sent[1] += len(value or b"")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    log: dict[tuple[str, int], list[Msg]] = {}
    for m in msgs:
        log.setdefault((m.topic, m.partition), []).append(m)
    rt = Runtime(policy=load_policy(None), ring=ring, names=TopicNames(""), clock=lambda: now,
                 partitions=PARTITIONS)
    engine = Engine(rt, Store({}, {}, {}, {}), Outbox(send), _Fence(log))
    loop = asyncio.new_event_loop()
    began = time.process_time()
    for i in range(0, len(msgs), batch):
        loop.run_until_complete(engine.process(msgs[i : i + batch]))
    rt.clock = lambda: now + 3600.0  # every held event's grace window is over
    loop.run_until_complete(engine.tick())
    spent = time.process_time() - began
    loop.close()
    return spent, sent[0], sent[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    msgs, now, start = _messages(args.events, args.users)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(Path(tmp))})
        policy = load_policy(None)
        ring, _ = keys.init_keyring(settings, policy.key_specs(), clock=lambda: start)
        runs = [_run(msgs, now, ring, args.batch) for _ in range(args.repeat)]
    best = min(r[0] for r in runs)
    print(json.dumps({
        "records": len(msgs),
        "cpu_us_per_record": round(best / len(msgs) * 1e6, 1),
        "runs_cpu_s": [round(r[0], 2) for r in runs],
        "messages_sent": runs[0][1],
        "bytes_sent": runs[0][2],
    }))


if __name__ == "__main__":
    main()
