"""Errors of the benchmark and evidence harness."""

from __future__ import annotations

from pipeline.errors import PipelineError


class BenchError(PipelineError):
    """The benchmark cannot run or did not complete; the message says what to check."""


class StageTimeout(BenchError):
    """A stage did not finish within its bound (a process stalled or died)."""
