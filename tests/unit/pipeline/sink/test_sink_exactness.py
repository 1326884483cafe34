"""Synthetic processor output, split and duplicated at random, aggregates to the exact truth."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from sink_feed import CLOCK, TOPICS, Feed

from pipeline.sink.ingest import apply_batch
from pipeline.sink.published import read_partials
from pipeline.sink.schema import open_state
from tests.support.synthetic import generate, observed

NOW = datetime(2026, 11, 26, 12)


def test_random_batches_with_duplicates_give_the_exact_aggregates(tmp_path: Path) -> None:
    data = generate(5000, 150, 6, seed=11, now=NOW)
    rng = random.Random(5)
    items = [(p, r) for p, recs in data.sanitized.items() for _, r in recs]
    items += [("decisions", r) for _, r in data.decisions]
    # Every record once, a third of them again (the worker re-emitting), in random order.
    stream = items + rng.sample(items, len(items) // 3)
    rng.shuffle(stream)
    conn = open_state(tmp_path / "pipeline.duckdb")
    while stream:
        size = rng.randrange(1, 2000)
        take, stream = stream[:size], stream[size:]
        feed = Feed()
        for kind, record in take:
            if kind == "decisions":
                feed.decisions(record)
            elif rng.random() < 0.5:
                feed.records(kind, record)
            else:
                feed.grouped(kind, record)
        apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
    assert observed(read_partials(conn)) == data.expected
