"""``privacy-pipeline report``: the analysts' summary of ``analytics.duckdb``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.cli.app import app, settings
from pipeline.errors import UsageError


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
) -> None:
    """Summarise <data_dir>/analytics.duckdb: top screens, visitors per day, consent per
    purpose, what was dropped and why, how each table was published (aggregates only:
    k-thresholded, or noisy with their standard error in dp mode)."""
    from pipeline.report.queries import analytics_path, open_analytics, run_sql, summarize
    from pipeline.report.terminal import render_query, render_summary

    if sql is not None and html is not None:
        raise UsageError("--sql and --html cannot be combined: run them one at a time")
    path = analytics_path(settings().data_dir)
    conn = open_analytics(path)
    console = Console()
    try:
        if sql is not None:
            render_query(run_sql(conn, sql, max_rows), console)
            return
        summary = summarize(conn, path, top)
    finally:
        conn.close()
    render_summary(summary, console)
    if html is not None:
        from pipeline.report.html import write_html

        write_html(summary, html)
        console.print(f"HTML report written to {html}", highlight=False)
