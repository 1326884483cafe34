"""``privacy-pipeline report``: the analysts' summary of ``analytics.duckdb``."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.cli.app import app, settings
from pipeline.cli.output import FormatOption, Rows, check_format, emit
from pipeline.errors import UsageError

_WIDE = 1000  # piped output: rich may use this many columns, so no value is cut


@app.command("report")
def report(
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", dir_okay=False,
        help="Also write a self-contained HTML page with charts (loads nothing from the "
        "network).")] = None,
    sql: Annotated[str | None, typer.Option(
        "--sql", metavar="QUERY",
        help="Run one read-only query (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN) instead and print "
        "its rows.")] = None,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Screens in 'Top screens'.")] = 10,
    max_rows: Annotated[int, typer.Option(
        "--max-rows", min=1, help="Most rows --sql prints.")] = 1000,
    fmt: FormatOption = "table",
) -> None:
    """Summarise analytics.duckdb (in PRIVACY_PIPELINE_ANALYTICS_DIR): top screens, visitors
    per day, consent per purpose, what was dropped and why, how each table was published
    (aggregates only: k-thresholded, or noisy with their standard error in dp mode)."""
    from pipeline.report.queries import analytics_path, open_analytics, run_sql, summarize
    from pipeline.report.terminal import render_query, render_summary

    if sql is not None and html is not None:
        raise UsageError("--sql and --html cannot be combined: run them one at a time")
    if check_format(fmt) == "csv" and sql is None:
        raise UsageError("--format csv prints one table: use it with --sql QUERY")
    path = analytics_path(settings())
    conn = open_analytics(path)
    console = Console(width=None if sys.stdout.isatty() else _WIDE)
    try:
        if sql is not None:
            result = run_sql(conn, sql, max_rows)
            if fmt == "table" and sys.stdout.isatty():
                render_query(result, console)
            else:
                _print_rows(result.columns, result.rows, result.truncated, fmt)
            return
        summary = summarize(conn, path, top)
    finally:
        conn.close()
    if fmt == "json":
        typer.echo(json.dumps(dataclasses.asdict(summary), default=str, ensure_ascii=False))
    else:
        render_summary(summary, console)
    if html is not None:
        from pipeline.report.html import write_html

        write_html(summary, html)
        console.print(f"HTML report written to {html}", highlight=False)


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], truncated: bool,
                fmt: str) -> None:
    emit(Rows(columns, rows), fmt)
    more = " (more rows exist: raise --max-rows)" if truncated else ""
    # The count is not data: with json or csv it goes to stderr, out of the way of a parser.
    typer.echo(f"{len(rows)} row(s){more}", err=fmt != "table")
