"""Truth-versus-sink comparison: one shape for both sides, exact differences, the threshold."""

from __future__ import annotations

from typing import Any

from pipeline.bench.compare import (
    Tables,
    differences,
    from_truth,
    merge,
    publication_differences,
)


def _truth(visitors: int = 6, views: int = 9) -> dict[str, list[dict[str, Any]]]:
    return {
        "navigation_hourly": [{"hour": "2026-11-26T10:00:00Z", "app": "mm-app",
                               "platform": "ios", "screen": "home", "views": views,
                               "visitors": visitors, "anonymous_views": 0}],
        "processing_daily": [{"day": "2026-11-26", "stream": "navigation",
                              "purpose": "advertising", "outcome": "kept", "events": 3}],
    }


def test_truth_rows_are_keyed_by_window_and_dimensions() -> None:
    tables = from_truth(_truth())
    assert tables["navigation_hourly"] == {
        ("2026-11-26T10:00:00Z", "mm-app", "ios", "home"): (9, 6, 0)}
    assert tables["processing_daily"] == {
        ("2026-11-26", "navigation", "advertising", "kept"): (3,)}
    assert tables["consent_daily"] == {}


def test_equal_tables_have_no_difference_and_unequal_ones_say_where() -> None:
    assert differences(from_truth(_truth()), from_truth(_truth())) == []
    found = differences(from_truth(_truth()), from_truth(_truth(views=10)))
    assert found == ["navigation_hourly ('2026-11-26T10:00:00Z', 'mm-app', 'ios', 'home'): "
                     "expected (9, 6, 0), got (10, 6, 0)"]


def test_merging_disjoint_populations_adds_counts() -> None:
    merged = merge(from_truth(_truth()), from_truth(_truth(visitors=2, views=3)))
    assert merged["navigation_hourly"] == {
        ("2026-11-26T10:00:00Z", "mm-app", "ios", "home"): (12, 8, 0)}


def test_publication_needs_k_users_and_exact_counts() -> None:
    expected = from_truth(_truth(visitors=5))
    assert publication_differences(expected, expected, k=5) == []
    missing: Tables = {name: {} for name in expected}
    assert publication_differences(expected, missing, k=5) == [
        "navigation_hourly ('2026-11-26T10:00:00Z', 'mm-app', 'ios', 'home'): "
        "5 distinct users >= k=5 but not published"]
    assert publication_differences(expected, missing, k=6) == []
    wrong = from_truth(_truth(visitors=5, views=1))
    assert len(publication_differences(expected, wrong, k=5)) == 1
