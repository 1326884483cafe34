"""Publication: exact tables and columns, k-threshold, shard merge, atomic replacement."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from sink_feed import CLOCK, TOPICS, Feed, nav

from pipeline.sink.config import ShardSpec
from pipeline.sink.ingest import apply_batch
from pipeline.sink.publish import publish_from_shard, publish_offline, write_analytics
from pipeline.sink.published import TABLES, read_partials
from pipeline.sink.schema import open_state
from pipeline.sink.target import AnalyticsTarget
from tests.support.synthetic import generate

DESIGN_COLUMNS = {
    "navigation_hourly": [("hour", "TIMESTAMP"), ("app", "VARCHAR"), ("platform", "VARCHAR"),
                          ("screen", "VARCHAR"), ("views", "BIGINT"), ("visitors", "BIGINT"),
                          ("anonymous_views", "BIGINT")],
    "navigation_daily": [("day", "DATE"), ("app", "VARCHAR"), ("platform", "VARCHAR"),
                         ("screen", "VARCHAR"), ("views", "BIGINT"), ("visitors", "BIGINT"),
                         ("anonymous_views", "BIGINT")],
    "geolocation_hourly": [("hour", "TIMESTAMP"), ("cell", "VARCHAR"), ("users", "BIGINT"),
                           ("events", "BIGINT")],
    "campaign_daily": [("day", "DATE"), ("app", "VARCHAR"), ("campaign", "VARCHAR"),
                       ("views", "BIGINT"), ("visitors", "BIGINT")],
    "consent_daily": [("day", "DATE"), ("purpose", "VARCHAR"), ("granted", "BIGINT"),
                      ("denied", "BIGINT"), ("withdrawn", "BIGINT")],
    "processing_daily": [("day", "DATE"), ("stream", "VARCHAR"), ("purpose", "VARCHAR"),
                         ("outcome", "VARCHAR"), ("events", "BIGINT")],
    "publication": [("table", "VARCHAR"), ("mode", "VARCHAR"), ("k", "BIGINT"),
                    ("epsilon", "DOUBLE"), ("delta", "DOUBLE"), ("sigma", "DOUBLE"),
                    ("sigma_counts", "DOUBLE"), ("threshold", "BIGINT"),
                    ("max_views_per_day", "BIGINT"), ("max_cells_per_day", "BIGINT"),
                    ("released_through", "DATE"), ("rows_published", "BIGINT"),
                    ("rows_withheld", "BIGINT"), ("withheld_reason", "VARCHAR"),
                    ("snapshot_time", "TIMESTAMP")],
}
NOW = datetime(2026, 11, 26, 12)


def _schema(path: Path) -> dict[str, list[tuple[str, str]]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        found: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in conn.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY table_name, column_index"
        ).fetchall():
            found.setdefault(table, []).append((column, data_type))
        return found
    finally:
        conn.close()


def _fill(
    path: Path, users: int, screen: str = "contracts", first: int = 0
) -> duckdb.DuckDBPyConnection:
    conn = open_state(path)
    feed = Feed().records("audience_measurement", *[
        nav(f"e{first + i}", f"P{first + i}", screen=screen) for i in range(users)])
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
    return conn


def test_analytics_has_exactly_the_design_tables_and_columns(tmp_path: Path) -> None:
    conn = _fill(tmp_path / "pipeline.duckdb", 5)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    assert _schema(AnalyticsTarget.beside(tmp_path).path) == DESIGN_COLUMNS
    assert [t.name for t in TABLES] == list(DESIGN_COLUMNS)[:-1]


def test_rows_below_k_are_omitted(tmp_path: Path) -> None:
    conn = _fill(tmp_path / "pipeline.duckdb", 5, screen="popular")
    feed = Feed().records("audience_measurement", *[
        nav(f"r{i}", f"R{i}", screen="rare") for i in range(4)])
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    assert out.execute("SELECT screen, views, visitors FROM navigation_hourly").fetchall() == [
        ("popular", 5, 5)]
    rare = out.execute("SELECT count(*) FROM navigation_daily WHERE screen = 'rare'").fetchall()
    assert rare == [(0,)]


def test_threshold_of_every_table_on_synthetic_data(tmp_path: Path) -> None:
    data = generate(3000, 60, 6, seed=7, now=NOW)
    conn = open_state(tmp_path / "pipeline.duckdb")
    feed = Feed()
    for purpose, records in data.sanitized.items():
        feed.grouped(purpose, *[r for _, r in records])
    feed.decisions(*[r for _, r in data.decisions])
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    for table, key in (("navigation_hourly", "visitors"), ("geolocation_hourly", "users"),
                       ("campaign_daily", "visitors")):
        published = out.execute(f"SELECT count(*), min({key}) FROM {table}").fetchone()  # noqa: S608
        expected = sum(1 for counts in data.expected[table].values()
                       if counts[1 if table != "geolocation_hourly" else 0] >= 5)
        assert published is not None and published[0] == expected
        assert expected == 0 or published[1] >= 5
    consent = out.execute("SELECT count(*) FROM consent_daily").fetchone()
    assert consent == (sum(1 for c in data.expected["consent_daily"].values() if c[3] >= 5),)


def test_shards_merge_to_the_single_shard_result(tmp_path: Path) -> None:
    data = generate(4000, 80, 6, seed=3, now=NOW)
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    for directory, count in ((single, 1), (sharded, 3)):
        for index in range(count):
            shard = ShardSpec(index, count)
            conn = open_state(directory / shard.db_name)
            feed = Feed()
            for purpose, records in data.sanitized.items():
                feed.grouped(purpose, *[r for p, r in records if shard.owns(p)])
            feed.decisions(*[r for p, r in data.decisions if shard.owns(p)])
            apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
            publish_from_shard(conn, directory, shard, k=3)
            conn.close()
    a = duckdb.connect(str(AnalyticsTarget.beside(single).path), read_only=True)
    b = duckdb.connect(str(AnalyticsTarget.beside(sharded).path), read_only=True)
    for table in TABLES:
        left = a.execute(f"SELECT * FROM {table.name} ORDER BY ALL").fetchall()  # noqa: S608
        right = b.execute(f"SELECT * FROM {table.name} ORDER BY ALL").fetchall()  # noqa: S608
        assert left == right and left, table.name


def test_publish_offline_merges_stopped_shards(tmp_path: Path) -> None:
    for index in range(2):
        shard = ShardSpec(index, 2)
        _fill(tmp_path / shard.db_name, 3, first=10 * index).close()
    publish_offline(tmp_path, 2, k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    # 3 + 3 distinct users across two shards reach k = 5 only once merged.
    assert out.execute("SELECT views, visitors FROM navigation_hourly").fetchall() == [(6, 6)]


def test_analytics_is_always_openable_while_republished(tmp_path: Path) -> None:
    conn = _fill(tmp_path / "pipeline.duckdb", 6)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    partials = read_partials(conn)
    done = threading.Event()
    errors: list[BaseException] = []

    def republish() -> None:
        try:
            for _ in range(40):
                write_analytics(tmp_path, 5, "loop", partials=partials)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=republish)
    thread.start()
    opened = 0
    while not done.is_set():
        reader = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
        assert reader.execute("SELECT sum(views) FROM navigation_hourly").fetchone() == (6,)
        reader.close()
        opened += 1
    thread.join()
    assert not errors and opened > 0
    assert not list(tmp_path.glob("*.tmp-*"))


def test_failed_build_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    conn = _fill(tmp_path / "pipeline.duckdb", 5)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    partials = dict(read_partials(conn))
    partials.pop("consent_daily")
    with pytest.raises(KeyError):
        write_analytics(tmp_path, 5, "broken", partials=partials)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    assert out.execute("SELECT views FROM navigation_daily").fetchall() == [(5,)]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_day_columns_are_dates(tmp_path: Path) -> None:
    conn = _fill(tmp_path / "pipeline.duckdb", 5)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    assert out.execute("SELECT day FROM navigation_daily").fetchall() == [(date(2026, 11, 26),)]
