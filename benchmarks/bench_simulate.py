"""Throughput of ``simulate``: generation, ground truth, and producing to the real broker.

Run: ``.venv/bin/python -m benchmarks.bench_simulate [--events N] [--users U] [--no-produce]``.
Generation and the oracle are single-threaded pure Python; producing goes to three fresh
uuid-named topics (deleted afterwards) on ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``, with the
idempotent producer and one acknowledged flush per batch, exactly like the command.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime

from pipeline.kafka import make_admin, make_producer
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.simulator import SimulationConfig, generate, ground_truth, produce
from pipeline.simulator.clock import default_hours, default_start
from pipeline.simulator.model import INPUT_TOPICS


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} events/s ({seconds:.2f} s)"


def _produce(settings: Settings, traffic_events: int, traffic: object) -> None:
    admin = make_admin(settings)
    names = {t: f"bench-{uuid.uuid4().hex}" for t in INPUT_TOPICS}
    admin.create_topics(
        {n: {"num_partitions": settings.partitions, "replication_factor": -1}
         for n in names.values()},
        wait_for_metadata=True,
    )  # fmt: skip
    producer = make_producer(settings, client_id="bench-simulate")
    try:
        began = time.perf_counter()
        produce(traffic, producer, topics=names)  # type: ignore[arg-type]
        print(f"produce:  {_rate(traffic_events, time.perf_counter() - began)}")
    finally:
        producer.close(timeout=10)
        admin.delete_topics(list(names.values()), raise_errors=False)
        admin.close()


def main() -> None:
    """Print events/s of each stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--no-produce", action="store_true")
    args = parser.parse_args()
    now = datetime.now(UTC)
    hours = default_hours(args.events)
    config = SimulationConfig(args.users, args.events, 1, default_start(now, hours), hours)
    began = time.perf_counter()
    traffic = generate(config)
    print(f"generate: {_rate(args.events, time.perf_counter() - began)}")
    policy = load_policy()
    began = time.perf_counter()
    ground_truth(traffic, policy, now)
    print(f"truth:    {_rate(args.events, time.perf_counter() - began)}")
    if not args.no_produce:
        _produce(Settings.from_env(), args.events, traffic)


if __name__ == "__main__":
    main()
