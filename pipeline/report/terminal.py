"""The report as rich tables in the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.report.queries import QueryResult, Summary


def count(n: int) -> str:
    """``12345`` -> ``12,345``."""
    return f"{n:,}"


def noisy(n: int, se: float | None) -> str:
    """``12,345`` or, for a dp figure, ``12,345 ± 67`` (± one standard error)."""
    return count(n) if se is None else f"{n:,} ± {se:,.0f}"


def percent(share: float | None) -> str:
    """``0.4567`` -> ``45.7 %``; ``None`` -> ``–``."""
    return "–" if share is None else f"{100 * share:.1f} %"


def period(first: date | None, last: date | None) -> str:
    """``2026-04-01 … 2026-04-03`` (or ``no data``)."""
    if first is None or last is None:
        return "no data"
    return str(first) if first == last else f"{first} … {last}"


# Values read from the database are wrapped in Text: never parsed as rich markup.
def _table(
    title: str, columns: Sequence[str], caption: str | None = None, text: int = 1
) -> Table:
    """A table whose first ``text`` columns hold text (left) and the others numbers (right)."""
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < text else "right")
    return table


def _overview(s: Summary) -> Table:
    o = s.overview
    table = Table(title="Overview", show_header=False, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("period (UTC days)", period(o.first_day, o.last_day))
    table.add_row("decisions (event × purpose)", count(o.decisions))
    table.add_row("kept for their purpose", percent(o.kept / o.decisions if o.decisions else None))
    table.add_row("navigation views (consented)", noisy(o.views, o.views_se))
    table.add_row("geolocation cells", count(o.cells))
    table.add_row("campaign views (advertising consent)",
                  noisy(o.campaign_views, o.campaign_views_se))
    return table


def _screens(s: Summary) -> Table:
    table = _table("Top screens", ["screen", "views", "visitor-days", "anonymous views"],
                   "visitor-days: distinct visitors per day, app and platform, summed")
    for r in s.top_screens:
        table.add_row(Text(r.screen), noisy(r.views, r.views_se), count(r.visitor_days),
                      count(r.anonymous_views))
    return table


def _days(s: Summary) -> Table:
    table = _table("Visitors per day", ["day (UTC)", "views", "visitors ≥", "anonymous views"],
                   "visitors ≥: distinct visitors of the day's busiest screen (a lower bound)")
    for r in s.days:
        table.add_row(str(r.day), noisy(r.views, r.views_se), noisy(r.visitors, r.visitors_se),
                      count(r.anonymous_views))
    return table


def _consent(s: Summary) -> Table:
    table = _table("Consent per purpose",
                   ["purpose", "granted", "denied", "withdrawn", "consent rate"],
                   "consent rate: granted / (granted + denied) answers; users counted per day")
    for r in s.consent:
        table.add_row(Text(r.purpose), count(r.granted), count(r.denied), count(r.withdrawn),
                      percent(r.rate))
    return table


def _purposes(s: Summary) -> Table:
    table = _table("Decisions per purpose (navigation and geolocation events)",
                   ["purpose", "kept", "dropped", "decided", "kept share"])
    for r in s.purposes:
        table.add_row(Text(r.purpose), count(r.kept), count(r.dropped), count(r.total),
                      percent(r.kept_share))
    return table


def _dropped(s: Summary) -> Table:
    table = _table("Dropped and why", ["reason", "purposes", "streams", "events"], text=3)
    for r in s.dropped:
        table.add_row(Text(r.reason), Text(r.purposes), Text(r.streams), count(r.events))
    return table


def _publication(s: Summary) -> Table:
    table = _table("How each table was published", ["table", "mode", "parameters", "rows",
                   "withheld", "why"], "dp figures: ± one standard error of the noise; "
                   "threshold figures are exact but omit the withheld rows", text=3)
    for r in s.publication:
        withheld = "–" if r.rows_withheld is None else count(r.rows_withheld)
        table.add_row(Text(r.table), Text(r.mode), Text(r.parameters), count(r.rows_published),
                      withheld, Text(r.withheld))
    return table


def render_summary(summary: Summary, console: Console) -> None:
    """Print every section of the report."""
    console.print(Text(f"Analytics report: {summary.source}", style="bold"))
    for table in (_overview(summary), _publication(summary), _screens(summary), _days(summary),
                  _consent(summary), _purposes(summary), _dropped(summary)):
        if table.row_count == 0:
            table.add_row(*(["no published rows"] + [""] * (len(table.columns) - 1)))
        console.print(table)


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def render_query(result: QueryResult, console: Console) -> None:
    """Print an analyst's query result as one table."""
    table = Table(*result.columns, title_justify="left")
    for row in result.rows:
        # Plain text: a stored string must not be read as rich markup.
        table.add_row(*(Text(_cell(v)) for v in row))
    console.print(table)
    more = " (more rows not shown: add a LIMIT or aggregate)" if result.truncated else ""
    console.print(f"{len(result.rows)} row(s){more}")
