"""The analysts' summary of ``analytics.duckdb``: terminal tables, a self-contained HTML page,
and read-only SQL (``privacy-pipeline report``).

:mod:`pipeline.report.queries` reads the published tables (DESIGN.md section 8) through a
read-only connection; :mod:`pipeline.report.terminal` and :mod:`pipeline.report.html` render
the same :class:`~pipeline.report.queries.Summary`.
"""

from __future__ import annotations

from pipeline.report.queries import QueryResult, Summary, open_analytics, run_sql, summarize

__all__ = ["QueryResult", "Summary", "open_analytics", "run_sql", "summarize"]
