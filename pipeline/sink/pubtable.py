"""The ``publication`` table of ``analytics.duckdb``: how each table was published, and why rows
are missing (DESIGN.md section 8).

One row per published table: its mode; k, or the dp parameters (epsilon, delta, sigma of the
user counts and of the other counts, threshold, contribution bounds) and the last day released;
rows published; rows withheld and why; the snapshot time. In dp mode the number of cells under
the noisy threshold is not given: it carries no noise, so it would leak what the noise hides.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from pipeline.policy.publication import Publication
from pipeline.sink.dp import calibrate

SCHEMA = pa.schema([
    ("table", pa.string()), ("mode", pa.string()), ("k", pa.int64()),
    ("epsilon", pa.float64()), ("delta", pa.float64()), ("sigma", pa.float64()),
    ("sigma_counts", pa.float64()), ("threshold", pa.int64()),
    ("max_views_per_day", pa.int64()), ("max_cells_per_day", pa.int64()),
    ("released_through", pa.date32()), ("rows_published", pa.int64()),
    ("rows_withheld", pa.int64()), ("withheld_reason", pa.string()),
    ("snapshot_time", pa.timestamp("us")),
])


@dataclasses.dataclass(frozen=True)
class TableOutcome:
    """What publishing one table did."""

    table: str
    published: int
    withheld: int | None = None
    merged: int = 0
    """processing_daily: rows under k folded into ``other``."""
    released_through: date | None = None


def _threshold_reason(o: TableOutcome, k: int) -> str:
    unit = "events" if o.table == "processing_daily" else "distinct users"
    reason = f"{o.table}: {o.withheld} rows under k = {k} {unit}"
    if o.table == "processing_daily":
        reason = (f"{o.table}: {o.merged} rows under k = {k} events merged into outcome "
                  f"'other'; {o.withheld} 'other' rows still under k suppressed")
    return reason


def _row(o: TableOutcome, publication: Publication, k: int, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SCHEMA.names)
    row.update(table=o.table, mode=publication.mode(o.table), rows_published=o.published,
               snapshot_time=now)
    if o.table not in publication.dp:
        row.update(k=k, rows_withheld=o.withheld, withheld_reason=_threshold_reason(o, k))
        return row
    cal = calibrate(publication.dp[o.table])
    row.update(
        epsilon=cal.epsilon, delta=cal.delta, sigma=cal.sigma_users,
        sigma_counts=cal.sigma_counts, threshold=cal.threshold,
        max_views_per_day=cal.max_views_per_day, max_cells_per_day=cal.max_cells_per_day,
        released_through=o.released_through,
        withheld_reason=(f"{o.table}: cells whose noisy user count is under {cal.threshold} "
                         "are not published (their number is not released: it has no noise); "
                         f"days are released {publication.release_after_hours} h after they end"),
    )
    return row


def publication_table(
    outcomes: list[TableOutcome], publication: Publication, k: int, now: datetime
) -> pa.Table:
    """The ``publication`` rows for ``outcomes`` (in table order)."""
    rows = [_row(o, publication, k, now) for o in outcomes]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
