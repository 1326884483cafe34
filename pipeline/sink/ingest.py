"""One batch, one DuckDB transaction: stage, de-duplicate, merge, store offsets, commit.

Everything is set-at-a-time SQL over Arrow tables (never row by row). The Kafka offsets of
the batch are upserted in the same transaction as the aggregates they produced, so after any
crash the database holds either the whole batch and its offsets or neither.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.sink import aggregates as agg
from pipeline.sink import staging
from pipeline.sink.batch import Decoded, RawBatch
from pipeline.sink.dprelease import contrib_sql


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What one committed batch did (counts only, no identifiers)."""

    messages: int
    records: int
    new_records: int
    duplicates: int
    rejected: int


@dataclasses.dataclass(frozen=True)
class Clock:
    """The times a batch is judged against."""

    today: date
    """Ingestion day, stored with each de-duplication key (keys are purged by it)."""
    closed_before: datetime
    """Windows that ended before this instant are closed (naive UTC)."""

    @property
    def closed_hour(self) -> datetime:
        """Hourly windows starting before this hour are closed."""
        return self.closed_before.replace(minute=0, second=0, microsecond=0)

    @property
    def closed_day(self) -> date:
        """Daily windows starting before this day are closed."""
        return self.closed_before.date()


def _arrow(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pa.Table:
    with warnings.catch_warnings():
        # The result of an INSERT ... RETURNING is small (one batch at most): a copy is fine.
        warnings.simplefilter("ignore", UserWarning)
        return conn.execute(sql, params).to_arrow_table()


def apply_batch(
    conn: duckdb.DuckDBPyConnection, batch: RawBatch | Decoded, clock: Clock,
    decisions_topic: str, dp_tables: frozenset[str] = frozenset(),
) -> BatchResult:
    """Fold ``batch`` into the shard's database in one transaction, offsets included.

    Args:
        conn: the shard's own database (see :func:`pipeline.sink.schema.open_state`).
        batch: messages and the next offset of each partition they came from (decoded
            already or not: the sink decodes the next batch while this one is written).
        clock: ingestion day and closing watermark.
        decisions_topic: name of the decisions topic (for rejected-record counts).
        dp_tables: tables published in dp mode (their per-user contributions are kept).

    Returns:
        Counts of what the batch did.
    """
    decoded = batch.decode() if isinstance(batch, RawBatch) else batch
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.register("batch_s", decoded.sanitized)
        conn.register("batch_d", decoded.decisions)
        conn.register("batch_offsets", decoded.offsets)
        conn.register("batch_rejected", decoded.rejected_table())
        if decoded.rejected:
            conn.execute("INSERT INTO sink_rejected SELECT * FROM batch_rejected "
                         "ON CONFLICT DO UPDATE SET records = records + excluded.records")
        s = _sanitized(conn, decoded.sanitized, clock, dp_tables)
        d = _decisions(conn, decoded.decisions, clock, decisions_topic)
        conn.execute(
            "INSERT INTO sink_offsets SELECT topic, part, next_offset FROM batch_offsets "
            "ON CONFLICT DO UPDATE SET next_offset = excluded.next_offset"
        )
        conn.execute("COMMIT")
        # The staging tables hold a whole batch: dropped now, not kept until the next one.
        for table in _STAGING:
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        for name in ("batch_s", "batch_d", "batch_offsets", "batch_rejected"):
            conn.unregister(name)
    bad = sum(decoded.rejected.values())
    records, new, rejected = (a + b for a, b in zip(s, d, strict=True))
    return BatchResult(decoded.messages, records + bad, new, records - new - rejected,
                       rejected + bad)


_STAGING = ("stg_s", "new_s", "stg_d", "new_d")


def _dedupe(conn: duckdb.DuckDBPyConnection, stg: str, new: str, today: date) -> int:
    """``new`` = rows of ``stg`` whose key was never seen (in this batch or before)."""
    insert = (f"INSERT INTO seen_keys SELECT DISTINCT k, $today FROM {stg} "  # noqa: S608
              "WHERE reject IS NULL ON CONFLICT DO NOTHING RETURNING k")
    fresh_keys = _arrow(conn, insert, {"today": today})
    conn.register("fresh_keys", fresh_keys)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {new} AS "  # noqa: S608
                     f"SELECT * FROM {stg} SEMI JOIN fresh_keys USING (k) WHERE reject IS NULL")
    finally:
        conn.unregister("fresh_keys")
    if _total(conn, new) != fresh_keys.num_rows:
        # The same record twice in this batch (rare): keep one copy of each.
        dedupe = f"CREATE OR REPLACE TEMP TABLE {new} AS SELECT DISTINCT ON (k) * FROM {new}"  # noqa: S608
        conn.execute(dedupe)
    return int(fresh_keys.num_rows)


def _count_rejects(
    conn: duckdb.DuckDBPyConnection, source: str, topic_expr: str, params: Any = None
) -> int:
    count = f"SELECT count(*) FROM {source} WHERE reject IS NOT NULL"  # noqa: S608
    row = conn.execute(count).fetchone()
    rejected = 0 if row is None else int(row[0])
    if rejected:
        conn.execute(
            f"INSERT INTO sink_rejected SELECT {topic_expr}, reject, count(*) FROM {source} "  # noqa: S608
            "WHERE reject IS NOT NULL GROUP BY ALL "
            "ON CONFLICT DO UPDATE SET records = records + excluded.records",
            params,
        )
    return rejected


def _total(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed names
    return 0 if row is None else int(row[0])


def _present(table: pa.Table, column: str) -> set[str]:
    """Distinct values of a column of the batch (skips statements with nothing to do)."""
    return {v for v in pc.unique(table[column]).to_pylist() if v is not None}


def _sanitized(
    conn: duckdb.DuckDBPyConnection, batch: pa.Table, clock: Clock,
    dp_tables: frozenset[str] = frozenset(),
) -> tuple[int, int, int]:
    if batch.num_rows == 0:
        return 0, 0, 0
    conn.execute(staging.sanitized_staging("batch_s"), {"closed_hour": clock.closed_hour})
    rejected = _count_rejects(conn, "stg_s", "topic")
    new = _dedupe(conn, "stg_s", "new_s", clock.today)
    purposes = _present(batch, "purpose")
    for spec in agg.SANITIZED_AGGREGATES:
        if spec.purpose not in purposes or not new:
            continue
        new_members = _arrow(conn, agg.member_insert_sql(spec))
        conn.register("new_members", new_members)
        try:
            conn.execute(agg.counter_merge_sql(spec, "new_members"))
        finally:
            conn.unregister("new_members")
        if spec.name in dp_tables:
            conn.execute(contrib_sql(spec))
    return batch.num_rows, new, rejected


def _decisions(
    conn: duckdb.DuckDBPyConnection, batch: pa.Table, clock: Clock, topic: str
) -> tuple[int, int, int]:
    if batch.num_rows == 0:
        return 0, 0, 0
    conn.execute(staging.decisions_staging("batch_d"), {"closed_day": clock.closed_day})
    rejected = _count_rejects(conn, "stg_d", "$topic", {"topic": topic})
    new = _dedupe(conn, "stg_d", "new_d", clock.today)
    kinds = _present(batch, "kind")
    if new and kinds & {"event", "invalid"}:
        conn.execute(agg.PROCESSING_MERGE)
    if new and "consent" in kinds:
        _consent(conn)
    return batch.num_rows, new, rejected


def _consent(conn: duckdb.DuckDBPyConnection) -> None:
    transitions = _arrow(conn, agg.CONSENT_MEMBERS)
    subjects = _arrow(conn, agg.CONSENT_SUBJECTS)
    conn.register("new_transitions", transitions)
    conn.register("new_subjects", subjects)
    try:
        conn.execute(agg.consent_merge_sql("new_transitions", "new_subjects"))
    finally:
        conn.unregister("new_transitions")
        conn.unregister("new_subjects")
