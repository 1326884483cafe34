"""The tables of ``analytics.duckdb`` (DESIGN.md section 8): columns, partials, threshold.

A shard's *partial* of a table is its aggregate rows before the k-threshold (dimensions as
stored, hidden distinct-user columns included). Partials of several shards add up exactly
because partitions are keyed by user: a user's records all reach one shard.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pyarrow as pa


@dataclasses.dataclass(frozen=True)
class PublishedTable:
    """One analyst-facing table."""

    name: str
    columns: tuple[tuple[str, str], ...]
    """Published (name, type), in order: exactly DESIGN.md section 8."""
    keys: tuple[str, ...]
    """Window and dimensions (the group of a row)."""
    counts: tuple[str, ...]
    """Additive columns, published ones and hidden ones (summed across shards)."""
    keep: str
    """SQL condition on the summed counts that a published row must meet (``$k`` = policy k)."""

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimensions stored as '' when missing, published as NULL."""
        return self.keys[1:]


_B = "BIGINT"
_NAV_COLS = (("app", "VARCHAR"), ("platform", "VARCHAR"), ("screen", "VARCHAR"),
             ("views", _B), ("visitors", _B), ("anonymous_views", _B))
# Anonymous (CNIL-exempt) views have no user behind them: a row of anonymous views only is
# published when it has at least k views; a row with consented visitors needs k of them.
_NAV_KEEP = "visitors >= $k OR (visitors = 0 AND views = 0 AND anonymous_views >= $k)"

TABLES: tuple[PublishedTable, ...] = (
    PublishedTable("navigation_hourly", (("hour", "TIMESTAMP"), *_NAV_COLS),
                   ("hour", "app", "platform", "screen"),
                   ("views", "visitors", "anonymous_views"), _NAV_KEEP),
    PublishedTable("navigation_daily", (("day", "DATE"), *_NAV_COLS),
                   ("day", "app", "platform", "screen"),
                   ("views", "visitors", "anonymous_views"), _NAV_KEEP),
    PublishedTable("geolocation_hourly",
                   (("hour", "TIMESTAMP"), ("cell", "VARCHAR"), ("users", _B), ("events", _B)),
                   ("hour", "cell"), ("users", "events"), "users >= $k"),
    PublishedTable("campaign_daily",
                   (("day", "DATE"), ("app", "VARCHAR"), ("campaign", "VARCHAR"),
                    ("views", _B), ("visitors", _B)),
                   ("day", "app", "campaign"), ("views", "visitors"), "visitors >= $k"),
    PublishedTable("consent_daily",
                   (("day", "DATE"), ("purpose", "VARCHAR"), ("granted", _B), ("denied", _B),
                    ("withdrawn", _B)),
                   ("day", "purpose"), ("granted", "denied", "withdrawn", "subjects"),
                   "subjects >= $k"),
    # A rare outcome (say, the one event a user sent late) could single out its user: rows
    # under k events are merged into the (day, stream, purpose)'s `other` outcome, and an
    # `other` row still under k is suppressed (see merged_sql).
    PublishedTable("processing_daily",
                   (("day", "DATE"), ("stream", "VARCHAR"), ("purpose", "VARCHAR"),
                    ("outcome", "VARCHAR"), ("events", _B)),
                   ("day", "stream", "purpose", "outcome"), ("events",), "events >= $k"),
)

OTHER_OUTCOME = "other"
"""processing_daily outcome that gathers the rows under k events of a (day, stream, purpose)."""


def partial_sql(table: PublishedTable) -> str:
    """This shard's partial of ``table`` from its own database."""
    columns = ", ".join((*table.keys, *table.counts))
    return f"SELECT {columns} FROM agg_{table.name}"  # noqa: S608 - names are constants


DP_PARTIALS = ("dp_released_navigation_hourly", "dp_released_navigation_daily",
               "dp_released_geolocation_hourly", "dp_released_campaign_daily", "dp_ledger")
"""dp mode's released rows and its ledger, read with the partials (same snapshot)."""


def read_partials(conn: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Every table's partial from a shard's database, as of one snapshot (dp releases too)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        out = {t.name: conn.sql(partial_sql(t)).to_arrow_table() for t in TABLES}
        for name in DP_PARTIALS:
            out[name] = conn.sql(f"SELECT * FROM {name}").to_arrow_table()  # noqa: S608
        return out
    finally:
        conn.execute("ROLLBACK")


def summed_sql(table: PublishedTable, sources: list[str], k: int) -> str:
    """``CREATE TEMP TABLE sums_<table>``: partials summed, before the threshold.

    processing_daily's rows under k events are folded into their group's ``other`` outcome
    here (then the threshold suppresses an ``other`` row still under k).

    Args:
        table: which table.
        sources: relation names holding partials (one per shard), at least one.
        k: the policy's threshold (an int, inlined: DDL takes no parameters).
    """
    union = " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources)  # noqa: S608
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in table.counts)
    keys = ", ".join(table.keys)
    summed = f"SELECT {keys}, {sums} FROM ({union}) GROUP BY ALL"  # noqa: S608
    if table.name == "processing_daily":
        summed = f"""
        SELECT day, stream, purpose, outcome, sum(events)::BIGINT AS events, sum(merged) AS merged
        FROM (SELECT day, stream, purpose,
                     CASE WHEN events < {int(k)} THEN '{OTHER_OUTCOME}' ELSE outcome END AS outcome,
                     events, (events < {int(k)})::BIGINT AS merged FROM ({summed}))
        GROUP BY ALL"""  # noqa: S608
    return f"CREATE OR REPLACE TEMP TABLE sums_{table.name} AS {summed}"


def merged_sql(table: PublishedTable, k: int) -> str:
    """``CREATE TABLE`` of the published table from ``sums_<table>``: thresholded, typed."""
    keys = ", ".join(table.keys)
    out = []
    for name, sql_type in table.columns:
        expr = f"nullif({name}, '')" if name in table.dims else name
        out.append(f"CAST({expr} AS {sql_type}) AS {name}")
    return f"""
    CREATE TABLE {table.name} AS
    SELECT {", ".join(out)} FROM sums_{table.name}
    WHERE {table.keep.replace("$k", str(int(k)))}
    ORDER BY {keys}"""  # noqa: S608


def withheld_sql(table: PublishedTable, k: int) -> str:
    """Rows of ``sums_<table>`` under the threshold (and, for processing_daily, rows merged)."""
    keep = table.keep.replace("$k", str(int(k)))
    merged = "sum(merged)" if table.name == "processing_daily" else "0"
    return (f"SELECT count(*) FILTER (WHERE NOT ({keep})), coalesce({merged}, 0), "  # noqa: S608
            f"count(*) FILTER (WHERE {keep}) FROM sums_{table.name}")


def released_sql(table: PublishedTable, source: str, counts: tuple[str, str]) -> str:
    """``CREATE TABLE`` of a dp table from its released rows (uncounted columns NULL)."""
    out = []
    for name, sql_type in table.columns:
        if name in table.dims:
            expr = f"nullif({name}, '')"
        elif name in table.keys or name in counts:
            expr = name
        else:
            expr = "NULL"  # anonymous_views: no user to bound, so never released in dp mode
        out.append(f"CAST({expr} AS {sql_type}) AS {name}")
    return f"""
    CREATE TABLE {table.name} AS SELECT {", ".join(out)} FROM {source}
    ORDER BY {", ".join(table.keys)}"""  # noqa: S608
