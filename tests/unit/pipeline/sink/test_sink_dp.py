"""dp mode: bounded contributions, noise within its stated interval, thresholds, one release."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sink_feed import CLOCK, TOPICS, Feed, nav

from pipeline.policy.publication import DpBudget, DpTable, Publication
from pipeline.sink.config import ShardSpec
from pipeline.sink.dp import Z_95, calibrate
from pipeline.sink.dprelease import release_due
from pipeline.sink.ingest import apply_batch
from pipeline.sink.publish import publish_from_shard
from pipeline.sink.schema import open_state
from pipeline.sink.target import AnalyticsTarget
from tests.support.synthetic import Synthetic, generate

NOW = datetime(2026, 11, 26, 12)
LATER = NOW + timedelta(days=2)
"""Every synthetic day (the 48 hours before NOW) is complete and released by then."""


def _tables(eps: float, delta: float, cells: int, views: int) -> dict[str, DpTable]:
    budget = DpBudget("navigation", eps, delta)
    return {name: DpTable(name, budget, 0.5, views, cells)
            for name in ("navigation_hourly", "navigation_daily")}


def _feed(conn: duckdb.DuckDBPyConnection, data: Synthetic, dp: frozenset[str]) -> None:
    feed = Feed()
    for purpose, records in data.sanitized.items():
        feed.grouped(purpose, *[r for _, r in records])
    feed.decisions(*[r for _, r in data.decisions])
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions, dp)


def _published(path: Path, table: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    out = duckdb.connect(str(AnalyticsTarget.beside(path).path), read_only=True)
    try:
        keys = "hour" if table.endswith("hourly") else "day"
        rows = out.execute(f"SELECT {keys}, app, platform, screen, visitors, views "  # noqa: S608
                           f"FROM {table}").fetchall()
    finally:
        out.close()
    return {tuple(r[:4]): (int(r[4]), int(r[5])) for r in rows}


def _zero(values: Sequence[int], sigma: float) -> list[int]:
    """Noiseless: isolates what bounding does."""
    return list(values)


@pytest.fixture(scope="module")
def workload() -> Synthetic:
    return generate(80_000, 1500, 6, seed=21, now=NOW)


def _run(tmp_path: Path, data: Synthetic, tables: dict[str, DpTable], noise: Any = None,
         ) -> duckdb.DuckDBPyConnection:
    conn = open_state(tmp_path / "pipeline.duckdb")
    _feed(conn, data, frozenset(tables))
    kwargs = {} if noise is None else {"noise": noise}
    release_due(conn, tables, LATER, 2, **kwargs)
    publish_from_shard(conn, tmp_path, ShardSpec(), 5, Publication(dp=tables))
    return conn


def test_published_counts_fall_in_their_stated_interval(tmp_path: Path, workload: Synthetic
                                                          ) -> None:
    # A large epsilon keeps most cells above the threshold: what is tested is that the stated
    # interval holds, whatever the noise scale.
    tables = _tables(eps=60.0, delta=1e-6, cells=48, views=96)
    conn = _run(tmp_path, workload, tables)
    cal = calibrate(tables["navigation_hourly"])
    published = _published(tmp_path, "navigation_hourly")
    truth = workload.expected["navigation_hourly"]
    assert len(published) >= 1000, "too few cells for the share to mean anything"
    inside_users = inside_views = 0
    for key, (visitors, views) in published.items():
        true_views, true_visitors, _ = truth[key]
        inside_users += abs(visitors - true_visitors) <= Z_95 * cal.sigma_users
        inside_views += abs(views - true_views) <= Z_95 * cal.sigma_counts
    # 95 % intervals: 0.93 is more than 4 standard deviations of the share below 0.95.
    assert inside_users / len(published) >= 0.93
    assert inside_views / len(published) >= 0.93
    # every cell that clears the threshold by 4 sigma is published
    sure = [k for k, c in truth.items() if c[1] >= cal.threshold + 4 * cal.sigma_users]
    assert sure and all(k in published for k in sure)
    conn.close()


@pytest.mark.parametrize(("delta", "cells", "allowed"), [(1e-6, 4, 0), (0.04, 1, 78)])
def test_cells_of_one_user_pass_no_more_often_than_delta_allows(
    tmp_path: Path, delta: float, cells: int, allowed: int
) -> None:
    # 5,000 users alone on their own screen: every cell's true count is 1.
    feed = Feed().records("audience_measurement", *[
        nav(f"e{i}", f"P{i}", screen=f"solo-{i}") for i in range(5000)])
    conn = open_state(tmp_path / "pipeline.duckdb")
    tables = _tables(eps=2.0, delta=delta, cells=cells, views=2)
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions, frozenset(tables))
    release_due(conn, tables, LATER, 2)
    publish_from_shard(conn, tmp_path, ShardSpec(), 5, Publication(dp=tables))
    leaked = len(_published(tmp_path, "navigation_daily"))
    # Per cell at most delta/2/C (the threshold's half of delta): 5,000 x 0.01 = 50 expected at
    # most for the second case; 78 is 4 standard deviations above.
    per_cell = tables["navigation_daily"].delta / 2 / cells
    assert per_cell * 5000 <= max(allowed, 1) and leaked <= allowed


def test_a_heavy_user_moves_each_count_by_at_most_the_bound(tmp_path: Path) -> None:
    workload = generate(20_000, 300, 6, seed=13, now=NOW)
    tables = _tables(eps=200.0, delta=1e-6, cells=6, views=10)  # low threshold: most rows out
    _run(tmp_path / "a", workload, tables, _zero).close()
    heavy = [nav(f"heavy-{i}", "HEAVY", screen=f"screen-{i % 12}", app="mm-app",
                 platform="ios", hour=f"2026-11-25T{i % 24:02d}:00:00Z") for i in range(2000)]
    more = Synthetic({**workload.sanitized, "audience_measurement": [
        *workload.sanitized["audience_measurement"], *[(0, r) for r in heavy]]},
        workload.decisions, workload.raw, workload.expected)
    _run(tmp_path / "b", more, tables, _zero).close()
    for table in tables:
        before, after = _published(tmp_path / "a", table), _published(tmp_path / "b", table)
        changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
        # 2,000 events over 288 rows of one day: only 6 rows may move, by 1 user and at most
        # 10 views in all (noiseless run: differences are the bounded contribution itself).
        assert 1 <= len(changed) <= 6, f"{table}: {len(changed)} rows changed"
        both = [k for k in changed if k in before and k in after]
        assert all(after[k][0] - before[k][0] == 1 for k in both)
        assert sum(after[k][1] - before[k][1] for k in both) <= 10
        assert all(after[k][1] - before[k][1] >= 0 for k in both)


def test_a_released_day_is_republished_identically(tmp_path: Path, workload: Synthetic
                                                   ) -> None:
    tables = _tables(eps=60.0, delta=1e-6, cells=24, views=48)
    conn = _run(tmp_path, workload, tables)
    first = _published(tmp_path, "navigation_hourly")
    # late records for a released day, a second release pass and a later snapshot
    late = Feed().records("audience_measurement", *[
        nav(f"late-{i}", f"L{i}", hour="2026-11-25T10:00:00Z") for i in range(50)])
    apply_batch(conn, late.batch, CLOCK, TOPICS.decisions, frozenset(tables))
    release_due(conn, tables, LATER + timedelta(hours=5), 2)
    publish_from_shard(conn, tmp_path, ShardSpec(), 5, Publication(dp=tables))
    assert first and _published(tmp_path, "navigation_hourly") == first
    ledger = conn.execute("SELECT tbl, day, count(*) FROM dp_ledger GROUP BY ALL").fetchall()
    assert all(n == 1 for _, _, n in ledger), "a day was released twice"
    conn.close()


def test_the_budget_ledger_adds_up(tmp_path: Path) -> None:
    data = generate(20_000, 400, 6, seed=8, now=NOW)
    tables = _tables(eps=1.0, delta=1e-7, cells=4, views=10)
    conn = _run(tmp_path, data, tables)
    days = conn.execute(
        "SELECT day, sum(epsilon), sum(delta), max(budget_epsilon), max(budget_delta), "
        "count(*), sum(share) FROM dp_ledger GROUP BY day ORDER BY day").fetchall()
    assert [d for d, *_ in days] == sorted({k[0] for k in data.expected["navigation_daily"]})
    for _day, eps, delta, budget_eps, budget_delta, tables_released, shares in days:
        assert tables_released == 2 and shares == pytest.approx(1.0)
        assert eps <= budget_eps and eps == pytest.approx(budget_eps, rel=1e-6)
        assert delta <= budget_delta * (1 + 1e-12)
    rows = conn.execute("SELECT tbl, sum(rows_released) FROM dp_ledger GROUP BY tbl").fetchall()
    for table, released in rows:
        assert released == len(_published(tmp_path, table))
    pending = conn.execute("SELECT count(*) FROM dp_contrib_navigation_hourly").fetchall()
    assert pending == [(0,)], "contributions of released days must be deleted"
    conn.close()


def test_publication_table_states_the_parameters(tmp_path: Path) -> None:
    data = generate(20_000, 400, 6, seed=8, now=NOW)
    tables = _tables(eps=1.0, delta=1e-7, cells=4, views=10)
    _run(tmp_path, data, tables).close()
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    rows = {r[0]: r for r in out.execute(
        'SELECT "table", mode, k, epsilon, sigma, threshold, max_cells_per_day, rows_withheld, '
        "withheld_reason FROM publication").fetchall()}
    cal = calibrate(tables["navigation_daily"])
    assert rows["navigation_daily"][1:8] == (
        "dp", None, pytest.approx(cal.epsilon), pytest.approx(cal.sigma_users), cal.threshold,
        4, None)
    assert rows["geolocation_hourly"][1:3] == ("threshold", 5)
    assert rows["geolocation_hourly"][7] >= 0
    anonymous = out.execute("SELECT count(*) FROM navigation_daily "
                            "WHERE anonymous_views IS NOT NULL").fetchall()
    assert anonymous == [(0,)], "anonymous views have no user to bound: never in dp mode"


def test_contributions_of_a_table_leaving_dp_mode_are_dropped(tmp_path: Path) -> None:
    tables = _tables(eps=2.0, delta=1e-6, cells=4, views=10)
    conn = open_state(tmp_path / "pipeline.duckdb")
    feed = Feed().records("audience_measurement", *[nav(f"e{i}", f"P{i}") for i in range(9)])
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions, frozenset(tables))
    assert release_due(conn, tables, NOW, 2)  # the day is not over: kept
    assert conn.execute("SELECT count(*) FROM dp_contrib_navigation_daily").fetchall() == [(9,)]
    assert release_due(conn, {}, NOW, 2) == []  # the policy went back to threshold
    assert conn.execute("SELECT count(*) FROM dp_contrib_navigation_daily").fetchall() == [(0,)]
    conn.close()
