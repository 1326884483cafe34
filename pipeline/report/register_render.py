"""The record of processing as text (terminal) and as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.report.page import esc, fields_table, page, write_page
from pipeline.report.register import PurposeRecord, Register
from pipeline.report.terminal import percent

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = ("body{font-family:sans-serif;margin:2em auto;max-width:980px;color:#222;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0 2em}th,td{padding:.25em .7em;"
        "border-bottom:1px solid #eee;text-align:left;vertical-align:top}"
        "th{background:#f4f4f4;width:16em}p.note{color:#555;font-size:.9em}")


def _number(n: int | None) -> str:
    return "not published" if n is None else f"{n:,}"


def fields(r: PurposeRecord) -> list[tuple[str, str]]:
    """(label, value) lines of one purpose, in the order an auditor reads them."""
    categories = "; ".join(f"{t}: {', '.join(f)}" for t, f in r.categories.items() if f)
    f = r.figures
    return [
        ("label", r.label),
        ("legal basis", r.basis),
        ("consent required", "yes" if r.consent_required else "no"),
        ("right to object", "yes" if r.objectable else "no"),
        ("data categories and treatment", categories),
        ("recipients", "; ".join(r.recipients)),
        ("topics", ", ".join(r.topics)),
        ("tables (analytics.duckdb)", ", ".join(r.tables)),
        ("transfers outside the EU", r.transfers_outside_eu),
        ("automated decisions", r.automated_decisions),
        ("retention", f"{r.retention_days} days, keys per {r.key_epoch}"),
        ("next key destruction", r.next_key_destruction),
        ("publication", "; ".join(f"{t}: {how}" for t, how in r.publication.items())),
        ("GPC", r.gpc),
        ("TCF", r.tcf),
        ("consent rate", percent(f.consent_rate)),
        ("events kept / dropped", f"{_number(f.kept_events)} / {_number(f.dropped_events)}"),
    ]


def _footer(reg: Register) -> list[tuple[str, str]]:
    rights = ", ".join(f"{k}: {v:,}" for k, v in reg.rights_requests.items()) or "none published"
    dead = _number(reg.dead_letters)
    return [("rights requests handled", rights), ("dead letters (invalid input)", dead),
            ("policy", reg.policy_source), ("figures from", reg.analytics),
            ("generated", reg.generated_at.strftime("%Y-%m-%d %H:%M UTC"))]


def render_terminal(reg: Register, console: Console) -> None:
    """Print one table per purpose, then the pipeline-wide figures."""
    console.print(Text("Record of processing (GDPR art. 30)", style="bold"))
    for r in reg.purposes:
        table = Table(title=r.purpose, show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value")
        for label, value in fields(r):
            table.add_row(label, Text(value))  # Text: policy strings never read as markup
        console.print(table)
    table = Table(title="Pipeline", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for label, value in _footer(reg):
        table.add_row(label, Text(value))
    console.print(table)


def render_html(reg: Register) -> str:
    """The record as one HTML page that loads nothing."""
    parts = [f"<h2>{esc(r.purpose)}</h2>{fields_table(fields(r))}" for r in reg.purposes]
    body = (
        "<h1>Record of processing (GDPR art. 30)</h1>"
        f"{''.join(parts)}<h2>Pipeline</h2>{fields_table(_footer(reg))}"
    )
    return page("Record of processing", body, csp=_CSP, css=_CSS)


def write_html(reg: Register, path: Path) -> None:
    """Write the page atomically.

    Raises:
        ReportError: the file cannot be written.
    """
    write_page(render_html(reg), path)
