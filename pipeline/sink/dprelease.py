"""dp mode in the sink's database: per-user contributions, bounded daily releases, the ledger.

* ``dp_contrib_<table>``: per (user of the day, row) the user's views, for the days not yet
  released. The user key is a 128-bit hash of (table, day, pseudonym), never the pseudonym.
* A day of a table is released once, when it ended ``release_after_hours`` ago (and the
  runner has committed every record written before then, see ``Sink._release``): each user's
  rows are cut to ``max_cells_per_day`` (kept in an order fixed by a hash of the user key and
  the row, independent of everyone else's data) and their views to ``max_views_per_day``;
  noise is added (:mod:`pipeline.sink.dp`); rows whose noisy user count reaches the threshold
  go to ``dp_released_<table>``, its contributions are deleted, and ``dp_ledger`` records what
  the release spent. Records that arrive for a released day are not counted by dp tables: a
  published value is never re-noised, so no averaging over snapshots is possible.

Set-at-a-time SQL and Arrow throughout (no row-by-row work).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa

from pipeline.policy.publication import DpTable
from pipeline.sink.aggregates import SANITIZED_AGGREGATES, AggSpec
from pipeline.sink.dp import Calibration, Noise, calibrate, opendp_noise

SPECS: Mapping[str, AggSpec] = {s.name: s for s in SANITIZED_AGGREGATES}

#: table -> (users column, counts column) as published.
COLUMNS: Mapping[str, tuple[str, str]] = {
    "navigation_hourly": ("visitors", "views"),
    "navigation_daily": ("visitors", "views"),
    "geolocation_hourly": ("users", "events"),
    "campaign_daily": ("visitors", "views"),
}

_WINDOW_TYPE = {"hour": "TIMESTAMP", "day": "DATE"}


def _table_ddl(spec: AggSpec) -> str:
    window = f"{spec.window} {_WINDOW_TYPE[spec.window]} NOT NULL"
    dims = ", ".join(f"{d} VARCHAR NOT NULL" for d in spec.dims)
    keys = ", ".join(spec.keys)
    users, counts = COLUMNS[spec.name]
    return f"""
CREATE TABLE IF NOT EXISTS dp_contrib_{spec.name} (
    uk BLOB NOT NULL, rday DATE NOT NULL, {window}, {dims}, views BIGINT NOT NULL,
    PRIMARY KEY (uk, {keys}));
CREATE TABLE IF NOT EXISTS dp_released_{spec.name} (
    {window}, {dims}, {users} BIGINT NOT NULL, {counts} BIGINT NOT NULL, PRIMARY KEY ({keys}));"""


DDL = "".join(_table_ddl(s) for s in SANITIZED_AGGREGATES) + """
CREATE TABLE IF NOT EXISTS dp_ledger (
    tbl VARCHAR NOT NULL, day DATE NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL,
    rho DOUBLE NOT NULL, sigma_users DOUBLE NOT NULL, sigma_counts DOUBLE NOT NULL,
    threshold BIGINT NOT NULL, max_views_per_day BIGINT NOT NULL,
    max_cells_per_day BIGINT NOT NULL, budget VARCHAR NOT NULL, share DOUBLE NOT NULL,
    budget_epsilon DOUBLE NOT NULL, budget_delta DOUBLE NOT NULL,
    rows_released BIGINT NOT NULL, released_at TIMESTAMP NOT NULL, PRIMARY KEY (tbl, day));
CREATE TABLE IF NOT EXISTS dp_state (tbl VARCHAR PRIMARY KEY, released_before DATE NOT NULL);
"""


def contrib_sql(spec: AggSpec) -> str:
    """Add the batch's (``new_s``) views per user and row, for days not released yet."""
    day = "CAST(hour AS DATE)"
    uk = f"unhex(md5(concat_ws(chr(31), '{spec.name}', CAST({day} AS VARCHAR), pseudonym)))"
    dims = ", ".join(spec.dims)
    return f"""
    INSERT INTO dp_contrib_{spec.name} (uk, rday, {", ".join(spec.keys)}, views)
    SELECT {uk}, {day}, {spec.window_expr}, {dims}, count(*)
    FROM new_s WHERE {spec.where} AND pseudonym IS NOT NULL AND NOT anonymous
      AND {day} >= coalesce((SELECT released_before FROM dp_state
                              WHERE tbl = '{spec.name}'), DATE '1970-01-01')
    GROUP BY ALL
    ON CONFLICT DO UPDATE SET views = views + excluded.views"""  # noqa: S608


def bounded_sql(spec: AggSpec, max_cells: int, max_views: int) -> str:
    """Per row of the days before ``$before``: users and views after per-user bounding."""
    keys = ", ".join(spec.keys)
    cells = ", ".join(f"CAST({k} AS VARCHAR)" for k in spec.keys)
    order = f"md5(concat_ws(chr(31), hex(uk), {cells}))"
    return f"""
    WITH ranked AS (
        SELECT *, row_number() OVER (PARTITION BY uk ORDER BY {order}) AS r
        FROM dp_contrib_{spec.name} WHERE rday < $before),
    kept AS (
        SELECT *, coalesce(sum(views) OVER (PARTITION BY uk ORDER BY r
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS earlier
        FROM ranked WHERE r <= {int(max_cells)})
    SELECT rday, {keys}, count(*) AS users,
           sum(greatest(0, least(views, {int(max_views)} - earlier)))::BIGINT AS counts
    FROM kept GROUP BY ALL ORDER BY rday, {keys}"""  # noqa: S608


@dataclasses.dataclass(frozen=True)
class Release:
    """What one call released for one table."""

    table: str
    days: tuple[date, ...]
    calibration: Calibration
    rows_released: int


def release_cutoff(now: datetime, release_after_hours: int) -> date:
    """Days before this one are complete: they ended at least ``release_after_hours`` ago."""
    return (now - timedelta(hours=release_after_hours)).date()


def release_instant(now: datetime, release_after_hours: int) -> datetime:
    """Records written before this instant count in the days :func:`release_cutoff` releases
    (later ones are late for them); the sink releases once it consumed them all."""
    cutoff = release_cutoff(now, release_after_hours)
    return datetime(cutoff.year, cutoff.month, cutoff.day) + timedelta(hours=release_after_hours)


def _noised(bounded: pa.Table, cal: Calibration, noise: Noise) -> pa.Table:
    users = noise(bounded.column("users").to_pylist(), cal.sigma_users)
    counts = noise(bounded.column("counts").to_pylist(), cal.sigma_counts)
    out = bounded.set_column(bounded.schema.get_field_index("users"), "users",
                             pa.array(users, pa.int64()))
    return out.set_column(out.schema.get_field_index("counts"), "counts",
                          pa.array(counts, pa.int64()))


def release_table(
    conn: duckdb.DuckDBPyConnection, table: DpTable, before: date, now: datetime,
    noise: Noise = opendp_noise,
) -> Release:
    """Release every pending day of ``table`` before ``before`` (call inside a transaction)."""
    spec, cal = SPECS[table.name], calibrate(table)
    sql = bounded_sql(spec, cal.max_cells_per_day, cal.max_views_per_day)
    bounded: pa.Table = conn.sql(sql, params={"before": before}).to_arrow_table()
    days = tuple(sorted(set(bounded.column("rday").to_pylist())))
    noisy = _noised(bounded, cal, noise)
    users, counts = COLUMNS[table.name]
    keys = ", ".join(spec.keys)
    conn.register("dp_noisy", noisy)
    try:
        row = conn.execute(
            f"INSERT INTO dp_released_{table.name} ({keys}, {users}, {counts}) "  # noqa: S608
            f"SELECT {keys}, users, greatest(counts, 0) FROM dp_noisy "
            "WHERE users >= $threshold ON CONFLICT DO NOTHING",
            {"threshold": cal.threshold}).fetchall()
        conn.execute(
            "INSERT INTO dp_ledger SELECT $tbl, rday, $eps, $delta, $rho, $su, $sc, $thr, $v, $c, "
            "$budget, $share, $beps, $bdelta, count(*) FILTER (WHERE users >= $thr), $now "
            "FROM dp_noisy GROUP BY rday ON CONFLICT DO NOTHING",
            {"tbl": table.name, "eps": cal.epsilon, "delta": cal.delta, "rho": cal.rho,
             "su": cal.sigma_users, "sc": cal.sigma_counts, "thr": cal.threshold,
             "v": cal.max_views_per_day, "c": cal.max_cells_per_day,
             "budget": table.budget.name, "share": table.share,
             "beps": table.budget.epsilon, "bdelta": table.budget.delta, "now": now})
    finally:
        conn.unregister("dp_noisy")
    conn.execute(f"DELETE FROM dp_contrib_{table.name} WHERE rday < $before",  # noqa: S608
                 {"before": before})
    conn.execute("INSERT INTO dp_state VALUES ($tbl, $before) ON CONFLICT DO UPDATE "
                 "SET released_before = greatest(released_before, excluded.released_before)",
                 {"tbl": table.name, "before": before})
    return Release(table.name, days, cal, int(row[0][0]) if row else 0)


def _has_rows(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM dp_contrib_{table})"  # noqa: S608 - constant names
    return bool(conn.execute(sql).fetchall()[0][0])


def release_due(
    conn: duckdb.DuckDBPyConnection, tables: Mapping[str, DpTable], now: datetime,
    release_after_hours: int, noise: Noise = opendp_noise,
) -> list[Release]:
    """Release the complete days of every dp table, in one transaction.

    Contributions kept for a table no longer in dp mode (the policy changed) are deleted.
    """
    before = release_cutoff(now, release_after_hours)
    stale = [n for n in sorted(SPECS.keys() - tables.keys()) if _has_rows(conn, n)]
    if not tables and not stale:
        return []  # threshold mode everywhere: no transaction, publication as before
    conn.execute("BEGIN TRANSACTION")
    try:
        for name in stale:
            conn.execute(f"DELETE FROM dp_contrib_{name}")  # noqa: S608 - constant names
        done = [release_table(conn, t, before, now, noise) for t in tables.values()]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done
