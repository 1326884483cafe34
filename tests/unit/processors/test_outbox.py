"""Grouping of output records into Kafka messages."""

from __future__ import annotations

import json

from processors.outbox import encode_groups


def _records(n: int, size: int) -> list[dict[str, str]]:
    return [{"event_id": f"e{i}", "pad": "x" * size} for i in range(n)]


def test_groups_hold_at_most_max_records_in_order() -> None:
    values = list(encode_groups(_records(5, 10), max_records=2, max_bytes=10_000))
    groups = [json.loads(v)["records"] for v in values]
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [r["event_id"] for g in groups for r in g] == [f"e{i}" for i in range(5)]


def test_a_group_over_the_byte_limit_is_split_until_it_fits() -> None:
    records = _records(2000, 600)  # about 1.3 MB as one group: over Kafka's 1 MiB
    values = list(encode_groups(records, max_records=2000, max_bytes=900 * 1024))
    assert len(values) > 1
    assert all(len(v) <= 900 * 1024 for v in values)
    decoded = [r for v in values for r in json.loads(v)["records"]]
    assert decoded == records


def test_a_single_record_over_the_limit_still_goes_out_alone() -> None:
    [value] = encode_groups(_records(1, 2000), max_records=10, max_bytes=100)
    assert len(json.loads(value)["records"]) == 1
