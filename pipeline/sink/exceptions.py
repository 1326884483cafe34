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


class DpShardingError(ConfigError):
    """A table is in dp mode while the sink runs sharded: per-user bounds and one noisy
    release per cell need all of a day's rows in one sink."""
