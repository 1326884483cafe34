"""Retention: close windows (drop member sets), expire old aggregates, purge old keys.

* A window closes once it ended more than the lateness bound plus a margin ago
  (``SinkConfig.close_after``): no record can reach it any more, so its member set (hashed
  pseudonyms) is dropped. Its distinct count needs nothing more: it was kept exact as
  members arrived. The watermark is stored so later records of a closed window are rejected
  rather than counted twice.
* An aggregate row older than its purpose's retention is deleted (``consent_daily`` follows
  the consent ledger's retention when the policy sets one).
* De-duplication keys are purged once older than ``close_after``: processors re-emit records
  within that horizon or drop them as late.
* Keys of expired epochs are destroyed through the keyring's expiry (a hook, see
  :data:`KeyExpiry`), so data older than the retention also becomes unreadable.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa

from pipeline.sink.schema import MEMBER_TABLES

log = logging.getLogger(__name__)

KeyExpiry = Callable[[datetime], object]
"""Destroys keys of epochs past their retention as of the given instant (timezone-aware)."""

#: aggregate table -> purpose whose retention applies (None: the row's own purpose column).
AGGREGATE_PURPOSE: Mapping[str, str | None] = {
    "agg_navigation_hourly": "audience_measurement",
    "agg_navigation_daily": "audience_measurement",
    "agg_geolocation_hourly": "geolocation",
    "agg_campaign_daily": "advertising",
    "agg_consent_daily": None,
    "agg_processing_daily": None,
    # dp mode's released rows follow their purpose's retention like the counters they noise.
    "dp_released_navigation_hourly": "audience_measurement",
    "dp_released_navigation_daily": "audience_measurement",
    "dp_released_geolocation_hourly": "geolocation",
    "dp_released_campaign_daily": "advertising",
}


@dataclasses.dataclass(frozen=True)
class RetentionResult:
    """Rows removed by one retention pass, per table."""

    closed_before: datetime
    deleted: Mapping[str, int]


def _window_cut(window: str, closed_before: datetime) -> datetime | date:
    if window == "hour":
        return closed_before.replace(minute=0, second=0, microsecond=0)
    return closed_before.date()


def close_windows(
    conn: duckdb.DuckDBPyConnection, closed_before: datetime
) -> tuple[datetime, dict[str, int]]:
    """Drop member sets of windows that ended before ``closed_before`` (naive UTC).

    The watermark only moves forward. Returns the watermark in force and the rows deleted
    per member table.
    """
    row = conn.execute("SELECT value FROM sink_meta WHERE name = 'closed_before'").fetchone()
    if row is not None:
        closed_before = max(closed_before, datetime.fromisoformat(str(row[0])))
    conn.execute(
        "INSERT INTO sink_meta VALUES ('closed_before', ?) "
        "ON CONFLICT DO UPDATE SET value = excluded.value",
        [closed_before.isoformat()],
    )
    deleted: dict[str, int] = {}
    for table, window in MEMBER_TABLES.items():
        cut = _window_cut(window, closed_before)
        res = conn.execute(f"DELETE FROM {table} WHERE {window} < ?", [cut]).fetchone()  # noqa: S608
        deleted[table] = 0 if res is None else int(res[0])
    return closed_before, deleted


def expire_aggregates(
    conn: duckdb.DuckDBPyConnection,
    retention_days: Mapping[str, int],
    ledger_days: int | None,
    today: date,
) -> dict[str, int]:
    """Delete aggregate rows whose day or hour is older than their purpose's retention.

    Rows of a purpose the policy does not know (``all``, ``unknown``...) keep the longest
    retention of the policy.
    """
    if not retention_days:
        return {}
    longest = max(retention_days.values())
    days = pa.table({
        "purpose": pa.array(list(retention_days), pa.string()),
        "days": pa.array(list(retention_days.values()), pa.int64()),
    })
    conn.register("retention_days", days)
    deleted: dict[str, int] = {}
    try:
        for table, purpose in AGGREGATE_PURPOSE.items():
            window = "hour" if table.endswith("hourly") else "day"
            if table == "agg_consent_daily" and ledger_days is not None:
                limit = "CAST($ledger AS BIGINT)"
            elif purpose is not None:
                limit = f"(SELECT days FROM retention_days WHERE purpose = '{purpose}')"  # noqa: S608
            else:
                limit = ("coalesce((SELECT days FROM retention_days r "  # noqa: S608
                         f"WHERE r.purpose = {table}.purpose), $longest)")
            sql = (f"DELETE FROM {table} "  # noqa: S608 - table and purpose names are constants
                   f"WHERE CAST({window} AS DATE) < $today - CAST({limit} AS INTEGER)")
            params: dict[str, object] = {"today": today}
            if "$ledger" in sql:
                params["ledger"] = ledger_days
            if "$longest" in sql:
                params["longest"] = longest
            res = conn.execute(sql, params).fetchone()
            deleted[table] = 0 if res is None else int(res[0])
    finally:
        conn.unregister("retention_days")
    return deleted


def purge_seen_keys(conn: duckdb.DuckDBPyConnection, before: date) -> int:
    """Forget de-duplication keys ingested before ``before``."""
    res = conn.execute("DELETE FROM seen_keys WHERE day < ?", [before]).fetchone()
    return 0 if res is None else int(res[0])


def run_retention(
    conn: duckdb.DuckDBPyConnection,
    now: datetime,
    close_after: timedelta,
    retention_days: Mapping[str, int],
    ledger_days: int | None = None,
) -> RetentionResult:
    """One retention pass in one transaction (``now`` is naive UTC)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        closed_before, deleted = close_windows(conn, now - close_after)
        deleted.update(expire_aggregates(conn, retention_days, ledger_days, now.date()))
        deleted["seen_keys"] = purge_seen_keys(conn, closed_before.date())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return RetentionResult(closed_before, deleted)
