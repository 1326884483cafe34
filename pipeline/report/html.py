"""The report as one self-contained HTML page: inline CSS and SVG charts, no script.

The page loads nothing: its Content-Security-Policy forbids every fetch (``default-src
'none'``), so it opens the same offline, from a mail attachment or a file share. Every
string from the database is escaped (:mod:`pipeline.report.page`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.report import charts
from pipeline.report.page import esc, page, table, write_page
from pipeline.report.queries import Summary
from pipeline.report.terminal import count, noisy, percent, period

_CSS = """
body{font-family:sans-serif;margin:2em auto;max-width:980px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee}
th{text-align:left;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
p.note{color:#555;font-size:.9em}svg.chart{display:block;margin:.5em 0;max-width:100%}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _section(title: str, note: str, chart: str, grid: str) -> str:
    note_html = f'<p class="note">{esc(note)}</p>' if note else ""
    return f"<section><h2>{esc(title)}</h2>{note_html}{chart}{grid}</section>"


def _overview(s: Summary) -> str:
    o = s.overview
    kept = percent(o.kept / o.decisions if o.decisions else None)
    rows = [("period (UTC days)", period(o.first_day, o.last_day)),
            ("decisions (event × purpose)", count(o.decisions)), ("kept for their purpose", kept),
            ("navigation views (consented)", noisy(o.views, o.views_se)),
            ("geolocation cells", count(o.cells)),
            ("campaign views (advertising consent)", noisy(o.campaign_views, o.campaign_views_se))]
    return _section("Overview", "", "", table(["figure", "value"], rows))


def _screens(s: Summary) -> str:
    chart = charts.hbars("Views per screen", [(r.screen, r.views) for r in s.top_screens])
    rows = [(r.screen, noisy(r.views, r.views_se), count(r.visitor_days),
             count(r.anonymous_views)) for r in s.top_screens]
    return _section("Top screens", "visitor-days: distinct visitors per day, app and platform, "
                    "summed.", chart,
                    table(["screen", "views", "visitor-days", "anonymous views"], rows))


def _days(s: Summary) -> str:
    chart = charts.columns("Visitors per day (busiest screen: a lower bound)",
                           [(str(r.day), r.visitors) for r in s.days], colour=charts.GREEN)
    rows = [(str(r.day), noisy(r.views, r.views_se), noisy(r.visitors, r.visitors_se),
             count(r.anonymous_views)) for r in s.days]
    return _section("Visitors per day", "visitors ≥: distinct visitors of the day's busiest "
                    "screen, a lower bound of the day's visitors.", chart,
                    table(["day (UTC)", "views", "visitors ≥", "anonymous views"], rows))


def _consent(s: Summary) -> str:
    legend = [("granted", charts.GREEN), ("denied", charts.RED), ("withdrawn", charts.ORANGE)]
    chart = charts.stacked("Consent answers per purpose",
                           [(r.purpose, (r.granted, r.denied, r.withdrawn)) for r in s.consent],
                           legend)
    rows = [(r.purpose, count(r.granted), count(r.denied), count(r.withdrawn), percent(r.rate))
            for r in s.consent]
    grid = table(["purpose", "granted", "denied", "withdrawn", "consent rate"], rows)
    return _section("Consent per purpose", "consent rate: granted / (granted + denied) "
                    "answers; users counted once per day.", chart, grid)


def _purposes(s: Summary) -> str:
    chart = charts.hbars("Kept share per purpose",
                         [(r.purpose, 100 * (r.kept_share or 0.0)) for r in s.purposes],
                         fmt="{:.1f} %".format, colour=charts.GREEN)
    rows = [(r.purpose, count(r.kept), count(r.dropped), count(r.total), percent(r.kept_share))
            for r in s.purposes]
    grid = table(["purpose", "kept", "dropped", "decided", "kept share"], rows)
    return _section("Decisions per purpose", "navigation and geolocation events.", chart, grid)


def _publication(s: Summary) -> str:
    rows = [(r.table, r.mode, r.parameters, count(r.rows_published),
             "–" if r.rows_withheld is None else count(r.rows_withheld), r.withheld)
            for r in s.publication]
    return _section("How each table was published",
                    "dp figures: ± one standard error of the noise; threshold figures are exact "
                    "but omit the withheld rows.", "",
                    table(["table", "mode", "parameters", "rows", "withheld", "why"], rows,
                          text=3))


def _dropped(s: Summary) -> str:
    chart = charts.hbars("Dropped events per reason", [(r.reason, r.events) for r in s.dropped],
                         colour=charts.RED)
    rows = [(r.reason, r.purposes, r.streams, count(r.events)) for r in s.dropped]
    return _section("Dropped and why", "", chart,
                    table(["reason", "purposes", "streams", "events"], rows, text=3))


def render_html(summary: Summary, generated_at: datetime | None = None) -> str:
    """The whole page as a string."""
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    sections = "".join(f(summary) for f in (_overview, _publication, _screens, _days,
                                             _consent, _purposes, _dropped))
    body = (
        f"<h1>Analytics report</h1><p class=\"note\">Generated {esc(when)} from "
        f"{esc(summary.source.name)}: aggregates only; rows under the policy's k-threshold "
        f"(or, in dp mode, under the noisy threshold) omitted.</p>{sections}"
    )
    return page("privacy-pipeline analytics report", body, csp=_CSP, css=_CSS, viewport=True)


def write_html(summary: Summary, path: Path) -> None:
    """Write the page to ``path`` (atomically: a reader never sees half a page).

    Raises:
        ReportError: the file cannot be written.
    """
    write_page(render_html(summary), path)
