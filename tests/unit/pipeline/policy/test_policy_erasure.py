"""The policy's [erasure] table: input retention and compaction bounds, validated."""

from __future__ import annotations

import pytest
from policy_docs import default_doc, problems

from pipeline.policy import load_policy, policy_from_document
from pipeline.policy.erasure import ErasureBounds


def test_default_policy_keeps_raw_events_24_hours() -> None:
    bounds = load_policy().erasure
    assert bounds.input_retention_hours == 24
    assert bounds.input_retention_ms == 86_400_000
    assert bounds.segment_ms == bounds.max_compaction_lag_ms == bounds.delete_retention_ms
    assert bounds.min_cleanable_dirty_ratio == 0.25


def test_a_policy_without_the_table_gets_the_defaults() -> None:
    doc = default_doc()
    del doc["erasure"]
    assert policy_from_document(doc).erasure == ErasureBounds()


def test_values_are_read() -> None:
    doc = default_doc()
    doc["erasure"] = {"input_retention_hours": 48, "segment_hours": 2,
                      "max_compaction_lag_hours": 3, "delete_retention_hours": 5,
                      "min_cleanable_dirty_ratio": 0.5}  # fmt: skip
    assert policy_from_document(doc).erasure == ErasureBounds(48, 2, 3, 5, 0.5)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("input_retention_hours", 0, "must be a positive integer (got 0)"),
        ("delete_retention_hours", 1.5, "must be a positive integer (got 1.5)"),
        ("min_cleanable_dirty_ratio", 0, "must be a number from 0.01 to 0.9 (got 0)"),
        ("min_cleanable_dirty_ratio", "0.5", "must be a number from 0.01 to 0.9 (got '0.5')"),
        ("retention_days", 1, None),
    ],
)
def test_bad_entries_are_refused(key: str, value: object, problem: str | None) -> None:
    doc = default_doc()
    doc["erasure"][key] = value
    (found,) = problems(doc)
    if problem is None:
        assert found.startswith(f"erasure.{key}: unknown key; expected one of input_retention")
    else:
        assert found == f"erasure.{key}: {problem}"


def test_retention_must_cover_the_grace_window() -> None:
    doc = default_doc()
    doc["grace_seconds"] = 7200
    doc["erasure"]["input_retention_hours"] = 2
    doc["erasure"]["segment_hours"] = 1
    assert problems(doc) == (
        "erasure.input_retention_hours: must cover the grace window: more than grace_seconds "
        "= 7200 s",
    )


def test_segment_longer_than_retention_is_refused() -> None:
    doc = default_doc()
    doc["erasure"]["segment_hours"] = 25
    (found,) = problems(doc)
    assert found.startswith("erasure.segment_hours: must be at most input_retention_hours (24)")
