"""What one sink process needs to know: its shard, its topics, its bounds and the policy's numbers.

Built once from :class:`~pipeline.settings.Settings` and the policy by :func:`sink_config`;
tests build :class:`SinkConfig` directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.policy.publication import Publication
from pipeline.settings import Settings
from pipeline.sink.exceptions import DpShardingError, ShardSpecError
from pipeline.sink.target import AnalyticsTarget
from pipeline.topics import TopicNames

#: Purposes whose sanitized records feed a table of DESIGN.md section 8. The others
#: (personalisation, fraud_prevention) are per-user streams for other consumers.
AGGREGATED_PURPOSES = ("audience_measurement", "geolocation", "advertising")


@dataclasses.dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``count``: owns partitions ``p`` with ``p % count == index``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardSpecError(
                f"shard {self.index}/{self.count} is invalid: use INDEX/COUNT with "
                "0 <= INDEX < COUNT, e.g. 0/1 (one shard) or 1/3"
            )

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """Parse ``"INDEX/COUNT"`` (e.g. ``"0/1"``, ``"2/4"``).

        Raises:
            ShardSpecError: the text is not two integers separated by ``/`` in range.
        """
        index, sep, count = text.strip().partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ShardSpecError(f"shard {text!r} is invalid: use INDEX/COUNT, e.g. 0/1 or 1/3")
        return cls(int(index), int(count))

    def owns(self, partition: int) -> bool:
        """Whether this shard consumes ``partition`` (of every topic it reads)."""
        return partition % self.count == self.index

    @property
    def db_name(self) -> str:
        """File name of this shard's own database under the data directory."""
        return "pipeline.duckdb" if self.count == 1 else f"pipeline-{self.index}.duckdb"

    @property
    def export_name(self) -> str:
        """File name of this shard's exported partial aggregates (sharded runs only)."""
        return f"sink-shard-{self.index}-of-{self.count}.duckdb"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclasses.dataclass(frozen=True)
class SinkTopics:
    """Topic names the sink reads: one sanitized topic per aggregated purpose, the decisions."""

    sanitized: Mapping[str, str]
    """purpose -> topic name."""
    decisions: str

    @classmethod
    def for_purposes(cls, purposes: list[str], prefix: str = "") -> SinkTopics:
        """The contract's names (``sanitized.<purpose>.v1``, ``pipeline.decisions.v1``) under
        ``prefix`` (:class:`pipeline.topics.TopicNames`)."""
        names = TopicNames(prefix)
        return cls(sanitized={p: names.sanitized(p) for p in purposes}, decisions=names.decisions)

    def all(self) -> list[str]:
        """Every topic name, decisions last."""
        return [*self.sanitized.values(), self.decisions]


@dataclasses.dataclass(frozen=True)
class SinkConfig:
    """Everything one sink process is configured with."""

    data_dir: Path
    topics: SinkTopics
    k: int = 5
    retention_days: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """purpose -> days an aggregate of that purpose is kept (missing: kept forever)."""
    ledger_retention_days: int | None = None
    """Retention of ``consent_daily`` (the consent ledger's); ``None``: the purposes'."""
    close_after: timedelta = timedelta(days=8)
    """A window's pseudonym set is dropped once the window ended this long ago."""
    shard: ShardSpec = ShardSpec()
    batch_size: int = 20_000
    publish_interval_s: float = 5.0
    retention_interval_s: float = 300.0
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    publication: Publication = dataclasses.field(default_factory=Publication)
    """Per-table publication mode (threshold or dp) and dp budgets, from the policy."""
    analytics_target: AnalyticsTarget | None = None
    """The analysts' directory; ``None``: ``<data_dir>-analytics``."""

    def __post_init__(self) -> None:
        if self.publication.dp and self.shard.count > 1:
            raise DpShardingError(
                f"tables {', '.join(self.publication.dp)} are published in dp mode, which "
                "needs a single sink (--shard 0/1): per-user bounds need all of a day's rows")

    @property
    def dp_tables(self) -> frozenset[str]:
        """Tables whose per-user contributions are kept for dp releases."""
        return frozenset(self.publication.dp)

    @property
    def db_path(self) -> Path:
        """This shard's own database."""
        return self.data_dir / self.shard.db_name

    @property
    def analytics(self) -> AnalyticsTarget:
        """Where ``analytics.duckdb`` is published."""
        return self.analytics_target or AnalyticsTarget.beside(self.data_dir)

    @property
    def analytics_path(self) -> Path:
        """The analysts' database."""
        return self.analytics.path


def sink_config(settings: Settings, policy: Any, shard: ShardSpec | None = None) -> SinkConfig:
    """Build the sink's configuration from settings and a loaded policy.

    Args:
        settings: process settings (data dir, bootstrap servers, sink knobs, topic prefix).
        policy: a :class:`pipeline.policy.Policy`.
        shard: overrides ``settings.sink_shard``.
    """
    purposes = [p for p in AGGREGATED_PURPOSES if p in policy.purposes]
    margin = timedelta(seconds=settings.sink_close_margin_s)
    return SinkConfig(
        data_dir=settings.data_dir,
        topics=SinkTopics.for_purposes(purposes, settings.topic_prefix),
        k=policy.k_threshold,
        retention_days={n: p.retention_days for n, p in policy.purposes.items()},
        ledger_retention_days=policy.consent_ledger.retention_days,
        close_after=timedelta(days=policy.lateness_days) + margin,
        shard=shard or ShardSpec.parse(settings.sink_shard),
        batch_size=settings.sink_batch_size,
        publish_interval_s=settings.sink_publish_interval_s,
        retention_interval_s=settings.sink_retention_interval_s,
        bootstrap_servers=tuple(settings.bootstrap_list),
        publication=policy.publication,
        analytics_target=AnalyticsTarget.from_settings(settings),
    )
