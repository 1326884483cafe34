"""Errors of the observability package."""

from __future__ import annotations

from pipeline.errors import PipelineError


class StatusError(PipelineError):
    """``privacy-pipeline status`` could not gather what it reports (the message says why)."""
