"""What every processor needs at hand: policy, keys, time bounds, topic names and a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.policy import Policy, Purpose
from pipeline.topics import TopicNames
from processors.decide import Bounds


def bounds_of(policy: Policy) -> Bounds:
    """The policy's time bounds in seconds (lateness, future, grace window)."""
    return Bounds(
        lateness_s=policy.lateness_days * 86400.0,
        future_s=policy.future_minutes * 60.0,
        grace_s=float(policy.grace_seconds),
    )


@dataclass
class Runtime:
    """Policy, keyring and bounds of one worker process."""

    policy: Policy
    ring: Any
    """A :class:`keys.Keyring` (``encrypt``, ``pseudonym``, ``subject_handle``, ``epoch_of``,
    ``refresh``)."""
    names: TopicNames = field(default_factory=TopicNames)
    clock: Callable[[], float] = time.time
    partitions: int = 6
    """The input topics' partition count (``settings.partitions``): a subject's partition is
    murmur2 of their raw id modulo it (:func:`processors.subject.partition_of`)."""
    bounds: Bounds = field(init=False)
    purposes_by_stream: dict[str, tuple[Purpose, ...]] = field(init=False)

    def __post_init__(self) -> None:
        p = self.policy
        self.bounds = bounds_of(p)
        self.purposes_by_stream = {
            stream: tuple(x for x in p.purposes.values() if x.applies_to(stream))
            for stream in ("navigation", "geolocation")
        }
