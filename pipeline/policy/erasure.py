"""How long Kafka may keep what an erasure removes: the policy's ``[erasure]`` table.

These numbers are the DPO's promise (README, "Erasure timeline"): ``privacy-pipeline topics``
turns them into topic configs and ``privacy-pipeline rights status`` computes its bounds from
the configs the broker actually has::

    [erasure]
    input_retention_hours = 24       # retention.ms of app.navigation.v1, app.geolocation.v1
    segment_hours = 1                # segment.ms of those and of every compacted topic
    max_compaction_lag_hours = 1     # max.compaction.lag.ms of every compacted topic
    delete_retention_hours = 1       # delete.retention.ms: how long a tombstone is kept
    min_cleanable_dirty_ratio = 0.25 # min.cleanable.dirty.ratio (eagerness, not the bound)

The table is optional: a policy file without it gets these defaults.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Problem = tuple[str, str]

_HOUR_MS = 3_600_000

_HOURS = ("input_retention_hours", "segment_hours", "max_compaction_lag_hours",
          "delete_retention_hours")  # fmt: skip


@dataclass(frozen=True)
class ErasureBounds:
    """Retention of the input topics and compaction of the compacted topics."""

    input_retention_hours: int = 24
    """Raw events stay on the input topics this long: enough to recover a worker."""
    segment_hours: int = 1
    """Kafka deletes and compacts closed segments only: a segment is closed after this."""
    max_compaction_lag_hours: int = 1
    """A superseded or tombstoned value is compacted away at most this long after it."""
    delete_retention_hours: int = 1
    """A tombstone itself (its key: a raw user id on ``privacy.consent.v1``) lives this long
    after compaction first saw it; readers from offset 0 must finish within it."""
    min_cleanable_dirty_ratio: float = 0.25
    """Share of uncompacted bytes that triggers compaction earlier than the lag (no bound)."""

    @property
    def input_retention_ms(self) -> int:
        """``retention.ms`` of the input topics."""
        return self.input_retention_hours * _HOUR_MS

    @property
    def segment_ms(self) -> int:
        """``segment.ms`` of the input and compacted topics."""
        return self.segment_hours * _HOUR_MS

    @property
    def max_compaction_lag_ms(self) -> int:
        """``max.compaction.lag.ms`` of the compacted topics."""
        return self.max_compaction_lag_hours * _HOUR_MS

    @property
    def delete_retention_ms(self) -> int:
        """``delete.retention.ms`` of the compacted topics."""
        return self.delete_retention_hours * _HOUR_MS


def erasure_schema() -> dict[str, Any]:
    """JSON Schema of the ``[erasure]`` table (every key optional, whole hours from 1)."""
    hours = {"type": "integer", "minimum": 1}
    properties: dict[str, Any] = dict.fromkeys(_HOURS, hours)
    properties["min_cleanable_dirty_ratio"] = {"type": "number", "minimum": 0.01, "maximum": 0.9}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def build_erasure(body: Mapping[str, Any] | None) -> ErasureBounds:
    """The bounds of a valid ``[erasure]`` table (defaults for what it leaves out)."""
    given = dict(body or {})
    if "min_cleanable_dirty_ratio" in given:
        given["min_cleanable_dirty_ratio"] = float(given["min_cleanable_dirty_ratio"])
    return ErasureBounds(**given)


def erasure_problems(table: Mapping[str, Any], grace_seconds: object) -> Iterator[Problem]:
    """Rules across entries: the retention covers the grace window and one segment."""
    defaults = ErasureBounds()
    retention = table.get("input_retention_hours", defaults.input_retention_hours)
    segment = table.get("segment_hours", defaults.segment_hours)
    if type(retention) is not int or retention < 1:  # the schema reports it
        return
    if type(grace_seconds) is int and retention * 3600 <= grace_seconds:
        yield (
            "erasure.input_retention_hours",
            f"must cover the grace window: more than grace_seconds = {grace_seconds} s",
        )
    if type(segment) is int and segment > retention:
        yield (
            "erasure.segment_hours",
            f"must be at most input_retention_hours ({retention}): Kafka deletes whole "
            "segments, so a longer segment keeps raw events past the retention",
        )
