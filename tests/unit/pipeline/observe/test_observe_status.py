"""The status model, its JSON document and its table (the same values)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from pipeline.cli.status import columns, render_table
from pipeline.observe.status import (
    Member,
    PartitionLag,
    Publication,
    StageLag,
    Status,
    partition_lags,
)


def _status(members: tuple[Member, ...], sink_known: bool = True) -> Status:
    worker = StageLag("worker", "group offsets", partition_lags(
        {("p.nav", 0): 10, ("p.nav", 1): 5, ("p.consent", 0): 3},
        {("p.nav", 1): 2},
        {("p.nav", 0): 4, ("p.consent", 0): 3},
    ))
    sink = StageLag("sink 0/1", "sink metrics",
                    partition_lags({("p.decisions", 0): 7}, {}, {("p.decisions", 0): 7}))
    if not sink_known:
        sink = StageLag("sink 0/1", "sink running, its metrics unreachable", known=False)
    published = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    return Status("p.privacy-pipeline", "Stable", (worker, sink), members,
                  Publication("/data/analytics.duckdb", published, 12.34))


def test_lag_counts_from_the_log_start_when_nothing_was_committed() -> None:
    assert PartitionLag("t", 0, None, 2, 5).lag == 3
    assert PartitionLag("t", 0, 1, 4, 5).lag == 1  # committed below a deleted segment
    assert PartitionLag("t", 0, 9, 0, 5).lag == 0
    status = _status(())
    worker = status.stages[0]
    assert worker.lag == 6 + 3 + 0
    assert worker.by_topic() == {"p.consent": 0, "p.nav": 9}


def test_unknown_is_not_zero() -> None:
    status = _status((Member("1", "127.0.0.1", 9, "http://127.0.0.1:9501/metrics", None),),
                     sink_known=False)
    doc = status.to_json()
    assert doc["stages"][1]["lag"] is None and doc["held_events"] is None
    assert doc["held_events_workers_answered"] == 0
    table = render_table(doc)
    assert re.search(r"^sink 0/1 +sink running, its metrics unreachable +- +unknown$", table,
                     re.MULTILINE)
    assert "held events: unknown (0 of 1 workers answered)" in table


def test_held_events_sum_the_workers_that_answered() -> None:
    members = (Member("1", "10.0.0.1", 9, "http://10.0.0.1:9501/metrics", 4),
               Member("2", "10.0.0.2", 9, "http://10.0.0.2:9502/metrics", None),
               Member("3", "10.0.0.3", 0, None, 2))
    status = _status(members)
    assert (status.held_events, status.held_answered) == (6, 2)


def test_table_and_json_hold_the_same_values() -> None:
    members = (Member("1", "127.0.0.1", 18, "http://127.0.0.1:9501/metrics", 3),)
    doc = json.loads(json.dumps(_status(members).to_json()))
    rows = [re.split(r"\s{2,}", line.strip()) for line in render_table(doc).splitlines()]
    assert ["worker", "group offsets", "p.consent", "0"] in rows
    assert ["worker", "group offsets", "p.nav", "9"] in rows
    assert ["sink 0/1", "sink metrics", "p.decisions", "0"] in rows
    assert ["1", "127.0.0.1", "18", "3", "http://127.0.0.1:9501/metrics"] in rows
    assert ["total lag: worker 9, sink 0/1 0"] in rows
    assert ["held events: 3 (1 of 1 workers answered)"] in rows
    assert ["analytics.duckdb: published 2026-12-04T15:00:00+00:00, 12.3 s ago "
            "(/data/analytics.duckdb)"] in rows
    assert doc["stages"][0]["partitions"][0] == {
        "topic": "p.consent", "partition": 0, "position": 3, "end": 3, "lag": 0}


def test_columns_keep_full_values_and_right_align_numbers() -> None:
    long = "x" * 150
    lines = columns(["NAME", "N"], [[long, 5], ["b", 12345]])
    assert lines[1] == f"{long}      5"
    assert lines[2].endswith("12345") and lines[2].startswith("b ")
