"""How ``analytics.duckdb`` was published (its ``publication`` table) and what it implies.

In ``dp`` mode every published count carries independent Gaussian noise of known standard
deviation, so a sum over ``n`` rows has standard error ``sigma * sqrt(n)``; in ``threshold``
mode counts are exact (standard error 0) but rows under k are missing from every sum.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime

import duckdb


@dataclasses.dataclass(frozen=True)
class PublicationRow:
    """One table's publication: mode, parameters, what was withheld and why."""

    table: str
    mode: str
    k: int | None
    epsilon: float | None
    delta: float | None
    sigma: float | None
    """Standard deviation of each distinct-user count (dp)."""
    sigma_counts: float | None
    """Standard deviation of each view / event count (dp)."""
    threshold: int | None
    max_views_per_day: int | None
    max_cells_per_day: int | None
    released_through: date | None
    rows_published: int
    rows_withheld: int | None
    withheld_reason: str | None
    snapshot_time: datetime | None

    @property
    def parameters(self) -> str:
        """One line: ``k = 5`` or ``ε = 1, δ = 1e-07, σ = 14.4 / 72.2, τ = 83, ≤ 10 views…``."""
        if self.mode != "dp":
            return f"k = {self.k}"
        return (f"ε = {self.epsilon:.3g}, δ = {self.delta:.2g}, σ users = {self.sigma:.3g}, "
                f"σ counts = {self.sigma_counts:.3g}, threshold = {self.threshold}, "
                f"≤ {self.max_views_per_day} views and ≤ {self.max_cells_per_day} rows "
                "per user and day")

    @property
    def withheld(self) -> str:
        """``7 rows under k = 5 …`` or the dp explanation."""
        return self.withheld_reason or "–"


_COLUMNS = ('"table", mode, k, epsilon, delta, sigma, sigma_counts, threshold, '
            "max_views_per_day, max_cells_per_day, released_through, rows_published, "
            "rows_withheld, withheld_reason, snapshot_time")


def publication(conn: duckdb.DuckDBPyConnection) -> list[PublicationRow]:
    """Rows of the ``publication`` table (empty for a file published before it existed)."""
    present = conn.execute("SELECT count(*) FROM duckdb_tables() "
                           "WHERE table_name = 'publication'").fetchall()
    if present != [(1,)]:
        return []
    rows = conn.execute(f"SELECT {_COLUMNS} FROM publication").fetchall()  # noqa: S608
    return [PublicationRow(*r) for r in rows]


def sigmas(rows: list[PublicationRow]) -> dict[str, tuple[float, float]]:
    """table -> (sigma of user counts, sigma of other counts); dp tables only."""
    return {r.table: (r.sigma or 0.0, r.sigma_counts or 0.0) for r in rows if r.mode == "dp"}


def standard_error(sigma: float, rows: int) -> float | None:
    """Standard error of a sum of ``rows`` noisy counts (``None`` when exact)."""
    return sigma * math.sqrt(rows) if sigma > 0 and rows > 0 else None
