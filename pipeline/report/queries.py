"""What the report says, as SQL over ``analytics.duckdb`` opened read-only.

The published tables (DESIGN.md section 8) hold aggregates only, so every figure here is a
sum over published rows: rows below k (threshold mode) or under the noisy threshold (dp mode)
are not in the file and not in the sums; dp figures carry a standard error. Distinct-user
counts are not additive across rows; where the report needs visitors
over several rows it says which bound it shows (see :class:`DayRow`).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from pipeline.report.exceptions import MissingDatabase, QueryFailed, QueryRefused, ReportError
from pipeline.report.publication import PublicationRow, publication, sigmas, standard_error
from pipeline.settings import Settings

ANALYTICS_FILE = "analytics.duckdb"
#: Statement types ``--sql`` runs; anything else is refused before DuckDB sees it.
READ_ONLY_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})
#: Decisions about events for a purpose: not the consent stream's ("applied", "rights_*"...)
#: nor invalid input (purpose "all": never decided for a purpose).
_DECIDED = "stream IN ('navigation', 'geolocation') AND purpose <> 'all'"
_DROPPED = "(outcome LIKE 'dropped%' OR outcome = 'invalid')"


@dataclasses.dataclass(frozen=True)
class ScreenRow:
    """One screen over the whole period (all apps and platforms)."""

    screen: str
    views: int
    visitor_days: int
    """Sum of the daily distinct visitors of the screen's rows (a visitor counts once a day
    per app and platform)."""
    anonymous_views: int
    views_se: float | None = None
    """Standard error of ``views`` (dp mode: noise of the rows summed); None when exact."""


@dataclasses.dataclass(frozen=True)
class DayRow:
    """One day of navigation."""

    day: date
    views: int
    visitors: int
    """Visitors of the day's busiest screen: a lower bound of the day's distinct visitors
    (the tables publish distinct visitors per screen, not per day)."""
    anonymous_views: int
    views_se: float | None = None
    visitors_se: float | None = None
    """Standard errors in dp mode (None when exact)."""


@dataclasses.dataclass(frozen=True)
class ConsentRow:
    """Consent answers for one purpose, summed over days (distinct users per day)."""

    purpose: str
    granted: int
    denied: int
    withdrawn: int

    @property
    def rate(self) -> float | None:
        """Share of answers that granted the purpose (None without any answer)."""
        answers = self.granted + self.denied
        return self.granted / answers if answers else None


@dataclasses.dataclass(frozen=True)
class PurposeRow:
    """Decisions about navigation and geolocation events for one purpose."""

    purpose: str
    kept: int
    dropped: int
    total: int

    @property
    def kept_share(self) -> float | None:
        """Share of decided events the purpose could use (None without decisions)."""
        return self.kept / self.total if self.total else None


@dataclasses.dataclass(frozen=True)
class DropRow:
    """One reason events were dropped or rejected."""

    reason: str
    events: int
    purposes: str
    """Purposes concerned, comma separated (``all`` for invalid input)."""
    streams: str


@dataclasses.dataclass(frozen=True)
class Overview:
    """Headline figures."""

    first_day: date | None
    last_day: date | None
    decisions: int
    kept: int
    views: int
    cells: int
    campaign_views: int
    views_se: float | None = None
    campaign_views_se: float | None = None


@dataclasses.dataclass(frozen=True)
class Summary:
    """Everything the report shows, from one snapshot of ``analytics.duckdb``."""

    source: Path
    overview: Overview
    top_screens: list[ScreenRow]
    days: list[DayRow]
    consent: list[ConsentRow]
    purposes: list[PurposeRow]
    dropped: list[DropRow]
    publication: list[PublicationRow] = dataclasses.field(default_factory=list)
    """How each table was published (threshold or dp), and what it withheld."""


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """Rows of an analyst's query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    """True when more rows existed than were fetched."""


def analytics_path(settings: Settings) -> Path:
    """Where the sink publishes the analysts' database (``PRIVACY_PIPELINE_ANALYTICS_DIR``)."""
    return settings.analytics_directory / ANALYTICS_FILE


def open_analytics(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``analytics.duckdb`` read-only, without access to any other file.

    External access is off and the configuration locked, so a query can neither attach
    another database nor read or write files (``COPY … TO``, ``read_csv``).

    Raises:
        MissingDatabase: no sink has published the file yet.
        ReportError: the file is not a DuckDB database.
    """
    if not path.is_file():
        raise MissingDatabase(
            f"{path} does not exist: run `privacy-pipeline demo`, or the sink "
            "(`privacy-pipeline sink`, then `privacy-pipeline sink publish`), first"
        )
    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False, "lock_configuration": True}
    try:
        conn = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {path}: {_first_line(exc)}") from None
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    try:
        return conn.execute(sql, params).fetchall()
    except duckdb.CatalogException as exc:
        raise ReportError(
            f"analytics.duckdb lacks a published table or column ({_first_line(exc)}); "
            "republish it with `privacy-pipeline sink publish`"
        ) from None


def top_screens(
    conn: duckdb.DuckDBPyConnection, limit: int = 10, sigma: float = 0.0
) -> list[ScreenRow]:
    """The ``limit`` most viewed screens (consented plus anonymous views).

    ``sigma``: noise of each row's views (dp mode), for the standard error of the sums.
    """
    sql = """
        SELECT coalesce(screen, '(none)') AS s, sum(views)::BIGINT, sum(visitors)::BIGINT,
               coalesce(sum(anonymous_views), 0)::BIGINT, count(*)
        FROM navigation_daily GROUP BY s
        ORDER BY sum(views) + coalesce(sum(anonymous_views), 0) DESC, s LIMIT ?"""
    return [ScreenRow(str(s), int(v), int(u), int(a), standard_error(sigma, int(n)))
            for s, v, u, a, n in _rows(conn, sql, [limit])]


def days(
    conn: duckdb.DuckDBPyConnection, sigmas: tuple[float, float] = (0.0, 0.0)
) -> list[DayRow]:
    """Views and visitors (busiest-screen lower bound) per day.

    ``sigmas``: noise of each row's visitors and views (dp mode), for standard errors.
    """
    sql = """
        SELECT day, sum(views)::BIGINT, max(visitors)::BIGINT,
               coalesce(sum(anonymous_views), 0)::BIGINT, count(*)
        FROM navigation_daily GROUP BY day ORDER BY day"""
    users, counts = sigmas
    return [DayRow(d, int(v), int(u), int(a), standard_error(counts, int(n)),
                   standard_error(users, 1)) for d, v, u, a, n in _rows(conn, sql)]


def consent(conn: duckdb.DuckDBPyConnection) -> list[ConsentRow]:
    """Granted, denied and withdrawn answers per purpose."""
    sql = """
        SELECT purpose, sum(granted)::BIGINT, sum(denied)::BIGINT, sum(withdrawn)::BIGINT
        FROM consent_daily GROUP BY purpose ORDER BY purpose"""
    return [ConsentRow(str(p), int(g), int(d), int(w)) for p, g, d, w in _rows(conn, sql)]


def purposes(conn: duckdb.DuckDBPyConnection) -> list[PurposeRow]:
    """Kept and dropped navigation and geolocation events per purpose."""
    sql = f"""
        SELECT purpose, coalesce(sum(events) FILTER (WHERE outcome = 'kept'), 0)::BIGINT,
               coalesce(sum(events) FILTER (WHERE {_DROPPED}), 0)::BIGINT, sum(events)::BIGINT
        FROM processing_daily WHERE {_DECIDED}
        GROUP BY purpose ORDER BY purpose"""  # noqa: S608 - constant fragments only
    return [PurposeRow(str(p), int(k), int(d), int(t)) for p, k, d, t in _rows(conn, sql)]


def dropped(conn: duckdb.DuckDBPyConnection) -> list[DropRow]:
    """Dropped and invalid events per reason, largest first."""
    sql = f"""
        SELECT outcome, sum(events)::BIGINT,
               string_agg(DISTINCT purpose, ', ' ORDER BY purpose),
               string_agg(DISTINCT stream, ', ' ORDER BY stream)
        FROM processing_daily WHERE {_DROPPED}
        GROUP BY outcome ORDER BY 2 DESC, outcome"""  # noqa: S608 - constant fragments only
    return [DropRow(str(o), int(n), str(p), str(s)) for o, n, p, s in _rows(conn, sql)]


def overview(
    conn: duckdb.DuckDBPyConnection, sigma: float = 0.0, campaign_sigma: float = 0.0
) -> Overview:
    """Period covered and headline totals (sigmas: dp noise of each row's views)."""
    sql = f"""
        SELECT
          (SELECT min(day) FROM (SELECT day FROM navigation_daily UNION ALL
                                 SELECT day FROM processing_daily)),
          (SELECT max(day) FROM (SELECT day FROM navigation_daily UNION ALL
                                 SELECT day FROM processing_daily)),
          (SELECT coalesce(sum(events), 0) FROM processing_daily
             WHERE {_DECIDED}),
          (SELECT coalesce(sum(events), 0) FROM processing_daily
             WHERE {_DECIDED} AND outcome = 'kept'),
          (SELECT coalesce(sum(views), 0) FROM navigation_daily),
          (SELECT count(DISTINCT cell) FROM geolocation_hourly),
          (SELECT coalesce(sum(views), 0) FROM campaign_daily)"""  # noqa: S608 - constants
    first, last, decisions, kept, views, cells, campaign = _rows(conn, sql)[0]
    rows, campaign_rows = _rows(conn, "SELECT (SELECT count(*) FROM navigation_daily), "
                                "(SELECT count(*) FROM campaign_daily)")[0]
    return Overview(first, last, int(decisions), int(kept), int(views), int(cells),
                    int(campaign), standard_error(sigma, int(rows)),
                    standard_error(campaign_sigma, int(campaign_rows)))


def summarize(conn: duckdb.DuckDBPyConnection, source: Path, top: int = 10) -> Summary:
    """Every figure of the report, read in one transaction (one consistent snapshot)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        published = publication(conn)
        noise = sigmas(published)
        nav = noise.get("navigation_daily", (0.0, 0.0))
        return Summary(
            source=source,
            overview=overview(conn, nav[1], noise.get("campaign_daily", (0.0, 0.0))[1]),
            top_screens=top_screens(conn, top, nav[1]),
            days=days(conn, nav),
            consent=consent(conn),
            purposes=purposes(conn),
            dropped=dropped(conn),
            publication=published,
        )
    finally:
        conn.execute("ROLLBACK")


def statement_types(conn: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """DuckDB's statement type of each statement in ``sql`` (``SELECT``, ``INSERT``...).

    Raises:
        QueryFailed: the text does not parse.
    """
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"--sql does not parse: {_first_line(exc)}") from None
    return [s.type.name for s in statements]


def check_read_only(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but exactly one ``SELECT`` (or ``EXPLAIN``) statement.

    Raises:
        QueryRefused: empty, several statements, or a statement that is not a query.
        QueryFailed: the text does not parse.
    """
    types = statement_types(conn, sql)
    if len(types) != 1:
        raise QueryRefused(f"--sql takes exactly one query, got {len(types)} statements")
    if types[0] not in READ_ONLY_STATEMENTS:
        raise QueryRefused(
            f"--sql only runs read-only queries (SELECT, WITH … SELECT, DESCRIBE, SHOW, "
            f"EXPLAIN); got a {types[0]} statement: analytics.duckdb is read-only"
        )


def run_sql(conn: duckdb.DuckDBPyConnection, sql: str, max_rows: int = 1000) -> QueryResult:
    """Run one read-only query; at most ``max_rows`` rows are fetched.

    Raises:
        QueryRefused: not exactly one read-only statement.
        QueryFailed: DuckDB rejected the query (the message is DuckDB's first line).
    """
    check_read_only(conn, sql)
    try:
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(max_rows + 1)
    except duckdb.Error as exc:
        raise QueryFailed(f"query failed: {_first_line(exc)}") from None
    return QueryResult(columns, rows[:max_rows], len(rows) > max_rows)
