"""The unit the engine works on: one Kafka record, whichever way it was read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VERIFIED_HEADER = "pp-subject-verified"
"""Kafka header the collector sets on consent records: ``1`` when it verified the subject."""


def subject_verified(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> bool:
    """Whether a record's headers say the collector verified its subject (absent: no)."""
    if not headers:
        return False
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return any(key == VERIFIED_HEADER and value == b"1" for key, value in pairs)


@dataclass(frozen=True, slots=True)
class Msg:
    """One input record: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    verified: bool = False
    """The collector verified the subject token binding this consent/rights to its user."""

    @property
    def source(self) -> str:
        """``topic:partition:offset``: the record's position, as dead letters cite it."""
        return f"{self.topic}:{self.partition}:{self.offset}"
