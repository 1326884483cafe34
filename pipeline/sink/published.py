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
    # Counts of decisions carry no user: nothing to single out, the DPO sees every outcome.
    PublishedTable("processing_daily",
                   (("day", "DATE"), ("stream", "VARCHAR"), ("purpose", "VARCHAR"),
                    ("outcome", "VARCHAR"), ("events", _B)),
                   ("day", "stream", "purpose", "outcome"), ("events",), "true"),
)


def partial_sql(table: PublishedTable) -> str:
    """This shard's partial of ``table`` from its own database."""
    columns = ", ".join((*table.keys, *table.counts))
    return f"SELECT {columns} FROM agg_{table.name}"  # noqa: S608 - names are constants


def read_partials(conn: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Every table's partial from a shard's database, as of one snapshot."""
    conn.execute("BEGIN TRANSACTION")
    try:
        return {t.name: conn.sql(partial_sql(t)).to_arrow_table() for t in TABLES}
    finally:
        conn.execute("ROLLBACK")


def merged_sql(table: PublishedTable, sources: list[str], k: int) -> str:
    """``CREATE TABLE`` of the published table: partials summed, thresholded, typed.

    Args:
        table: which table.
        sources: relation names holding partials (one per shard), at least one.
        k: the policy's threshold (an int, inlined: DDL takes no parameters).
    """
    union = " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources)  # noqa: S608
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in table.counts)
    keys = ", ".join(table.keys)
    out = []
    for name, sql_type in table.columns:
        expr = f"nullif({name}, '')" if name in table.dims else name
        out.append(f"CAST({expr} AS {sql_type}) AS {name}")
    return f"""
    CREATE TABLE {table.name} AS
    SELECT {", ".join(out)} FROM (
        SELECT {keys}, {sums} FROM ({union}) GROUP BY ALL
    ) WHERE {table.keep.replace("$k", str(int(k)))}
    ORDER BY {keys}"""  # noqa: S608
