"""The sink's own database (``pipeline.duckdb`` or ``pipeline-<i>.duckdb``): tables and opening.

Three kinds of tables:

* counters per aggregate row (``agg_*``), merged with ``ON CONFLICT DO UPDATE``. Their
  distinct-user column is maintained incrementally: a batch adds the members it inserted
  into the window's set for the first time, so it is exact at any moment;
* member sets of windows that can still receive records (``members_*``): one row per
  (window, dimensions, user) keyed by ``mk``, a 128-bit hash of the three (never the
  pseudonym itself), dropped when the window closes;
* bookkeeping: Kafka offsets (written in the same transaction as the data), de-duplication
  keys, rejected-record counts and the closing watermark.

Dimension columns are ``NOT NULL`` (a primary key needs it): a missing dimension is stored as
``''`` and published as ``NULL``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.private import private_dir
from pipeline.sink.dprelease import DDL as DP_DDL

SCHEMA_VERSION = 1
CHECKPOINT_THRESHOLD = "256MB"

_DDL = """
CREATE TABLE IF NOT EXISTS sink_meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic VARCHAR NOT NULL, part INTEGER NOT NULL, next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, part));
CREATE TABLE IF NOT EXISTS sink_rejected (
    topic VARCHAR NOT NULL, reason VARCHAR NOT NULL, records BIGINT NOT NULL,
    PRIMARY KEY (topic, reason));
CREATE TABLE IF NOT EXISTS seen_keys (k BLOB PRIMARY KEY, day DATE NOT NULL);

CREATE TABLE IF NOT EXISTS agg_navigation_hourly (
    hour TIMESTAMP NOT NULL, app VARCHAR NOT NULL, platform VARCHAR NOT NULL,
    screen VARCHAR NOT NULL, views BIGINT NOT NULL, visitors BIGINT NOT NULL,
    anonymous_views BIGINT NOT NULL, PRIMARY KEY (hour, app, platform, screen));
CREATE TABLE IF NOT EXISTS members_navigation_hourly (
    mk BLOB PRIMARY KEY, hour TIMESTAMP NOT NULL, app VARCHAR NOT NULL,
    platform VARCHAR NOT NULL, screen VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS agg_navigation_daily (
    day DATE NOT NULL, app VARCHAR NOT NULL, platform VARCHAR NOT NULL,
    screen VARCHAR NOT NULL, views BIGINT NOT NULL, visitors BIGINT NOT NULL,
    anonymous_views BIGINT NOT NULL, PRIMARY KEY (day, app, platform, screen));
CREATE TABLE IF NOT EXISTS members_navigation_daily (
    mk BLOB PRIMARY KEY, day DATE NOT NULL, app VARCHAR NOT NULL,
    platform VARCHAR NOT NULL, screen VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS agg_geolocation_hourly (
    hour TIMESTAMP NOT NULL, cell VARCHAR NOT NULL, users BIGINT NOT NULL,
    events BIGINT NOT NULL, PRIMARY KEY (hour, cell));
CREATE TABLE IF NOT EXISTS members_geolocation_hourly (
    mk BLOB PRIMARY KEY, hour TIMESTAMP NOT NULL, cell VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS agg_campaign_daily (
    day DATE NOT NULL, app VARCHAR NOT NULL, campaign VARCHAR NOT NULL,
    views BIGINT NOT NULL, visitors BIGINT NOT NULL, PRIMARY KEY (day, app, campaign));
CREATE TABLE IF NOT EXISTS members_campaign_daily (
    mk BLOB PRIMARY KEY, day DATE NOT NULL, app VARCHAR NOT NULL, campaign VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS agg_consent_daily (
    day DATE NOT NULL, purpose VARCHAR NOT NULL, granted BIGINT NOT NULL,
    denied BIGINT NOT NULL, withdrawn BIGINT NOT NULL, subjects BIGINT NOT NULL,
    PRIMARY KEY (day, purpose));
CREATE TABLE IF NOT EXISTS members_consent_daily (
    mk BLOB PRIMARY KEY, day DATE NOT NULL, purpose VARCHAR NOT NULL,
    transition VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS members_consent_subjects (
    mk BLOB PRIMARY KEY, day DATE NOT NULL, purpose VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS agg_processing_daily (
    day DATE NOT NULL, stream VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL, events BIGINT NOT NULL,
    PRIMARY KEY (day, stream, purpose, outcome));
"""

#: member table -> (its window column, its aggregate table).
MEMBER_TABLES = {
    "members_navigation_hourly": "hour",
    "members_navigation_daily": "day",
    "members_geolocation_hourly": "hour",
    "members_campaign_daily": "day",
    "members_consent_daily": "day",
    "members_consent_subjects": "day",
}


def configure(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every sink connection needs: UTC times, no progress bar."""
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET enable_progress_bar = false")


def open_state(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (and create if needed) a shard's own database for writing.

    DuckDB takes an exclusive file lock: a second writer fails with ``duckdb.IOException``.
    """
    private_dir(path.parent)  # raw pseudonyms and event ids: the pipeline's account only
    conn = duckdb.connect(str(path))
    configure(conn)
    # Checkpoints rewrite the de-duplication and member indexes: do them every few hundred
    # MB of log, not every 16 MB (the default), or they dominate commit time.
    conn.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    conn.execute("BEGIN")
    conn.execute(_DDL)
    conn.execute(DP_DDL)
    conn.execute(
        "INSERT INTO sink_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
        [str(SCHEMA_VERSION)],
    )
    conn.execute("COMMIT")
    return conn


def open_state_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """Open a shard's database read-only (fails with ``duckdb.IOException`` while a sink runs)."""
    conn = duckdb.connect(str(path), read_only=True)
    configure(conn)
    return conn


def read_offsets(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition), as committed with the data."""
    rows = conn.execute("SELECT topic, part, next_offset FROM sink_offsets").fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}


def read_watermark(conn: duckdb.DuckDBPyConnection) -> str | None:
    """ISO timestamp before which windows are closed (their member sets dropped), if any."""
    row = conn.execute("SELECT value FROM sink_meta WHERE name = 'closed_before'").fetchone()
    return None if row is None else str(row[0])
