"""Errors of the sink (``privacy-pipeline sink``)."""

from __future__ import annotations

from pipeline.errors import ConfigError, PipelineError


class SinkError(PipelineError):
    """Base of the sink's errors."""


class ShardSpecError(ConfigError):
    """A shard spec is not ``INDEX/COUNT`` with ``0 <= INDEX < COUNT``."""


class StateLocked(SinkError):
    """A sink database is held by a running sink process."""


class PublishError(SinkError):
    """``analytics.duckdb`` could not be written; the previous snapshot stays in place."""
