"""Benchmark of dp publication against threshold publication, and of its accuracy.

Feeds the sink's default bench workload (``tests.support.synthetic``, 200,000 events of
4,000 users over 48 hours) into two fresh shard databases, one with every user-counting
table in ``threshold`` mode and one with all four in ``dp`` mode, and times: ingestion
(records/s; dp also keeps per-user contributions), the dp release (bounding, OpenDP noise,
ledger) and the publication of ``analytics.duckdb``. Then compares each published table with
the generator's exact truth: cells published, the median absolute error of the distinct-user
counts, and the share of published counts inside their stated 95 % interval.

No broker: the Kafka path is the same in both modes (see ``bench_sink.py`` for it).

Run: ``.venv/bin/python -m benchmarks.bench_dp [--events 200000] [--epsilon 1.0]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb

from pipeline.policy.publication import DpBudget, DpTable, Publication
from pipeline.sink.batch import RawBatch
from pipeline.sink.config import ShardSpec, SinkTopics
from pipeline.sink.dp import Z_95, calibrate
from pipeline.sink.dprelease import COLUMNS, release_due
from pipeline.sink.ingest import Clock, apply_batch
from pipeline.sink.publish import publish_from_shard
from pipeline.sink.schema import open_state
from tests.support.synthetic import Synthetic, generate, messages

NOW = datetime(2026, 11, 26, 12)
CLOCK = Clock(today=NOW.date(), closed_before=NOW - timedelta(days=8))
TOPICS = SinkTopics.for_purposes(["audience_measurement", "geolocation", "advertising"])
USERS_INDEX = {"navigation_hourly": 1, "navigation_daily": 1, "geolocation_hourly": 0,
               "campaign_daily": 1}


def _publication(epsilon: float, views: int, cells: int) -> Publication:
    nav, geo, ads = (DpBudget(n, epsilon, 1e-7) for n in ("navigation", "geolocation", "ads"))
    return Publication(dp={
        "navigation_hourly": DpTable("navigation_hourly", nav, 0.5, views, cells),
        "navigation_daily": DpTable("navigation_daily", nav, 0.5, views, cells),
        "geolocation_hourly": DpTable("geolocation_hourly", geo, 1.0, views, cells),
        "campaign_daily": DpTable("campaign_daily", ads, 1.0, views, cells),
    })


def _batches(data: Synthetic) -> list[RawBatch]:
    """Messages of 200 records, 100 messages (20,000 records) a batch, like the sink."""
    purpose_of = {t: p for p, t in TOPICS.sanitized.items()}
    out: list[RawBatch] = []
    offsets: dict[tuple[str, int], int] = {}
    streams = [(TOPICS.sanitized[p], r) for p, r in data.sanitized.items()]
    for topic, records in [*streams, (TOPICS.decisions, data.decisions)]:
        for part, group in messages(records, 200):
            if not out or out[-1].messages >= 100:
                out.append(RawBatch(purpose_of, TOPICS.decisions))
            offset = offsets.get((topic, part), 0)
            offsets[(topic, part)] = offset + 1
            value = json.dumps({"records": group}).encode()
            out[-1].add(topic, part, [SimpleNamespace(offset=offset, value=value)])
    return out


def _ingest(path: Path, data: Synthetic, dp: frozenset[str]) -> tuple[duckdb.DuckDBPyConnection,
                                                                        float]:
    conn = open_state(path)
    decoded = [b.decode() for b in _batches(data)]
    start = time.perf_counter()
    for d in decoded:
        apply_batch(conn, d, CLOCK, TOPICS.decisions, dp)
    return conn, time.perf_counter() - start


def _accuracy(out: Path, data: Synthetic, pub: Publication, k: int) -> list[dict[str, Any]]:
    conn = duckdb.connect(str(out / "analytics.duckdb"), read_only=True)
    rows = []
    for table, (users_col, _) in COLUMNS.items():
        keys = [c[0] for c in conn.execute(f"DESCRIBE {table}").fetchall()][:-3 if
               table.startswith("navigation") else -2]
        got = {tuple(r[:-1]): r[-1] for r in conn.execute(
            f"SELECT {', '.join(keys)}, {users_col} FROM {table}").fetchall()}  # noqa: S608 - constant names
        truth = {k_: v[USERS_INDEX[table]] for k_, v in data.expected[table].items()}
        errors = [abs(v - truth.get(k_, 0)) for k_, v in got.items()]
        relative = [abs(v - truth[k_]) / truth[k_] for k_, v in got.items() if truth.get(k_)]
        row: dict[str, Any] = {"table": table, "cells": len(truth),
                               "cells >= k": sum(1 for v in truth.values() if v >= k),
                               "published": len(got)}
        if table in pub.dp:
            cal = calibrate(pub.dp[table])
            row.update(sigma=cal.sigma_users, threshold=cal.threshold,
                       median_abs_error=statistics.median(errors) if errors else None,
                       median_rel_error=statistics.median(relative) if relative else None,
                       in_95=(sum(e <= Z_95 * cal.sigma_users for e in errors) / len(errors)
                              if errors else None))
        rows.append(row)
    conn.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epsilon", type=float, default=1.0, help="per budget and UTC day")
    parser.add_argument("--views", type=int, default=10, help="max views per user and day")
    parser.add_argument("--cells", type=int, default=4, help="max rows per user and day")
    parser.add_argument("--dp-only", action="store_true", help="skip the threshold run")
    args = parser.parse_args()
    data = generate(args.events, max(100, args.events // 50), 6, seed=1, now=NOW)
    records = sum(len(v) for v in data.sanitized.values()) + len(data.decisions)
    pub = _publication(args.epsilon, args.views, args.cells)
    runs = [("dp", pub)] if args.dp_only else [("threshold", Publication()), ("dp", pub)]
    with tempfile.TemporaryDirectory() as tmp:
        for mode, p in runs:
            work = Path(tmp) / mode
            conn, ingest_s = _ingest(work / "pipeline.duckdb", data, frozenset(p.dp))
            start = time.perf_counter()
            for table in p.dp.values():
                calibrate(table)  # once per process and parameter set, cached
            calibrate_s = time.perf_counter() - start
            start = time.perf_counter()
            release_due(conn, p.dp, NOW + timedelta(days=2), 2)
            release_s = time.perf_counter() - start
            start = time.perf_counter()
            publish_from_shard(conn, work, ShardSpec(), 5, p)
            publish_s = time.perf_counter() - start
            conn.close()
            print(f"{mode}: {records:,} records ingested in {ingest_s:.2f} s "
                  f"({records / ingest_s:,.0f} records/s); calibration {calibrate_s:.2f} s; "
                  f"release {release_s:.2f} s; "
                  f"publication {publish_s:.2f} s")
            for row in _accuracy(work, data, p, 5):
                print("  ", row)


if __name__ == "__main__":
    main()
