"""Benchmark of the sink on the real broker: records/s from Kafka to published aggregates.

Produces synthetic processor output (``tests.support.synthetic``: sanitized records of three
purposes and decisions, partitioned by user) to fresh uuid-prefixed topics, then times one
sink (in this process, real ``KafkaConsumer``, real DuckDB files in a temporary directory)
from its start until it has committed everything and published ``analytics.duckdb``.
The aggregates are checked against the generator's exact expectation.

Target (reported, not asserted): at least 100,000 records/s on the 2-core machine.

Run: ``.venv/bin/python -m benchmarks.bench_sink [--events 200000] [--per-message 200]``
(``--per-message 1``: one record per Kafka message instead of ``{"records": [...]}``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipeline.kafka import make_admin, make_consumer, make_producer
from pipeline.settings import Settings
from pipeline.sink.config import AGGREGATED_PURPOSES, SinkConfig, SinkTopics
from pipeline.sink.published import read_partials
from pipeline.sink.runner import Sink
from pipeline.sink.schema import open_state, read_offsets
from pipeline.sink.source import KafkaSource
from tests.support.synthetic import Synthetic, generate, messages, observed

PARTITIONS = 6


def _produce(settings: Settings, topics: SinkTopics, data: Synthetic, per_message: int) -> int:
    producer = make_producer(settings, linger_ms=50, batch_size=1 << 20,
                             max_request_size=8 << 20)
    sent = 0
    batches = [(topics.sanitized[p], recs) for p, recs in data.sanitized.items()]
    for topic, records in [*batches, (topics.decisions, data.decisions)]:
        for part, group in messages(records, per_message):
            value = group[0] if per_message == 1 else {"records": group}
            producer.send(topic, json.dumps(value).encode(), partition=part)
            sent += 1
    producer.flush()
    producer.close()
    return sent


def _run_sink(settings: Settings, topics: SinkTopics, data_dir: Path,
              batch_size: int) -> tuple[float, Sink]:
    config = SinkConfig(data_dir=data_dir, topics=topics, batch_size=batch_size,
                        publish_interval_s=5.0)
    conn = open_state(config.db_path)
    consumer = make_consumer(settings, group_id=None, max_poll_records=batch_size,
                             fetch_max_bytes=64 << 20, max_partition_fetch_bytes=8 << 20)
    source = KafkaSource(consumer, topics.all(), config.shard, read_offsets(conn))
    sink = Sink(config, conn, source)
    start = time.perf_counter()
    sink.run(threading.Event(), once=True)
    elapsed = time.perf_counter() - start
    source.close()
    return elapsed, sink


def main() -> None:
    """Print the sink's throughput and whether its aggregates are exact."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=20_000,
                        help="Kafka messages per DuckDB transaction (the sink's setting)")
    args = parser.parse_args()
    settings = Settings.from_env()
    prefix = f"bench-sink-{uuid.uuid4().hex[:12]}-"
    topics = SinkTopics.for_purposes(list(AGGREGATED_PURPOSES), prefix)
    admin = make_admin(settings)
    admin.create_topics({t: {"num_partitions": PARTITIONS, "replication_factor": -1,
                             "configs": {}} for t in topics.all()}, wait_for_metadata=True)
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        data = generate(args.events, max(100, args.events // 50), PARTITIONS, seed=1, now=now)
        sent = _produce(settings, topics, data, args.per_message)
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, sink = _run_sink(settings, topics, Path(tmp), args.batch_size)
            exact = observed(read_partials(sink.conn)) == data.expected
            sink.conn.close()
        stats = sink.stats
        print(f"sink: {stats.records} records in {sent} messages ({args.per_message} per "
              f"message), {stats.batches} transactions, {elapsed:.2f} s from start to "
              f"published: {stats.records / elapsed:,.0f} records/s; exact aggregates: {exact}")
    finally:
        admin.delete_topics(topics.all())
        admin.close()


if __name__ == "__main__":
    main()
