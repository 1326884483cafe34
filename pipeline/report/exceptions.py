"""Errors of the analyst report (``privacy-pipeline report``)."""

from __future__ import annotations

from pipeline.errors import PipelineError, UsageError


class ReportError(PipelineError):
    """The report could not be built; the message says what to do."""


class MissingDatabase(ReportError):
    """``analytics.duckdb`` does not exist yet (no sink has published)."""


class QueryRefused(UsageError):
    """``--sql`` was given something other than one read-only query."""


class QueryFailed(ReportError):
    """DuckDB rejected an analyst's query (syntax, unknown column, write attempt...)."""
