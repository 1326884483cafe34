"""What ``privacy-pipeline status`` reports, as plain values (no I/O here; see gather.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any


@dataclasses.dataclass(frozen=True)
class PartitionLag:
    """One partition of a stage: where the stage is, where the log starts and ends."""

    topic: str
    partition: int
    position: int | None
    """Next offset the stage will read; None: it never committed one (reads from ``start``)."""
    start: int
    end: int

    @property
    def lag(self) -> int:
        """Records the stage has not handled yet."""
        at = self.start if self.position is None else max(self.position, self.start)
        return max(0, self.end - at)


@dataclasses.dataclass(frozen=True)
class StageLag:
    """A stage's lag: the worker group on the input topics, or a sink shard on its topics."""

    stage: str
    source: str
    """Where the positions come from (``group offsets``, ``sink metrics``, ...)."""
    partitions: tuple[PartitionLag, ...] = ()
    known: bool = True
    """False when the positions could not be read: the lag is unknown, not 0."""

    @property
    def lag(self) -> int | None:
        """Total lag; None when unknown."""
        return sum(p.lag for p in self.partitions) if self.known else None

    def by_topic(self) -> dict[str, int]:
        """Lag per topic (topics in first-seen order)."""
        out: dict[str, int] = {}
        for p in self.partitions:
            out[p.topic] = out.get(p.topic, 0) + p.lag
        return out


@dataclasses.dataclass(frozen=True)
class Member:
    """One worker of the group."""

    worker_id: str
    host: str
    partitions: int
    """Input partitions assigned to it."""
    metrics: str | None
    """Its metrics URL (None: it advertises none)."""
    held: int | None
    """Held events it reported; None when its endpoint did not answer."""


@dataclasses.dataclass(frozen=True)
class Publication:
    """The last publication of ``analytics.duckdb``."""

    path: str
    published_at: datetime | None
    age_s: float | None


@dataclasses.dataclass(frozen=True)
class Status:
    """Everything ``status`` prints."""

    group: str
    group_state: str
    stages: tuple[StageLag, ...]
    members: tuple[Member, ...]
    publication: Publication

    @property
    def held_answered(self) -> int:
        """Workers whose held-event count is known."""
        return sum(m.held is not None for m in self.members)

    @property
    def held_events(self) -> int | None:
        """Events held by the workers that answered; None when none did."""
        known = [m.held for m in self.members if m.held is not None]
        return sum(known) if known else None

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``status --format json`` (same values as the table)."""
        pub = self.publication
        return {
            "group": self.group,
            "group_state": self.group_state,
            "stages": [_stage_json(s) for s in self.stages],
            "workers": [dataclasses.asdict(m) for m in self.members],
            "held_events": self.held_events,
            "held_events_workers_answered": self.held_answered,
            "publication": {
                "path": pub.path,
                "published_at": None if pub.published_at is None
                else pub.published_at.isoformat(timespec="seconds"),
                "age_s": None if pub.age_s is None else round(pub.age_s, 1),
            },
        }


def _stage_json(stage: StageLag) -> dict[str, Any]:
    return {
        "stage": stage.stage,
        "source": stage.source,
        "lag": stage.lag,
        "topics": stage.by_topic() if stage.known else {},
        "partitions": [
            {"topic": p.topic, "partition": p.partition, "position": p.position,
             "end": p.end, "lag": p.lag}
            for p in stage.partitions
        ] if stage.known else [],
    }


def partition_lags(
    ends: Mapping[tuple[str, int], int],
    starts: Mapping[tuple[str, int], int],
    positions: Mapping[tuple[str, int], int],
) -> tuple[PartitionLag, ...]:
    """One :class:`PartitionLag` per partition of ``ends``, sorted by topic and partition."""
    return tuple(
        PartitionLag(topic, partition, positions.get((topic, partition)),
                     starts.get((topic, partition), 0), end)
        for (topic, partition), end in sorted(ends.items())
    )
