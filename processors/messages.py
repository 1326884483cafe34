"""The unit the engine works on: one Kafka record, whichever way it was read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Msg:
    """One input record: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def source(self) -> str:
        """``topic:partition:offset``: the record's position, as dead letters cite it."""
        return f"{self.topic}:{self.partition}:{self.offset}"
