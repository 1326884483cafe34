"""What "no value joins two purposes' records" means, for the unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PURPOSES = ("audience_measurement", "personalisation", "advertising", "fraud_prevention",
            "geolocation")

SHARED = frozenset({"purpose", "stream", "hour", "epoch", "anonymous", "app", "platform",
                    "screen", "type", "campaign", "cell"})
"""Coarse dimensions a record may share with another purpose's record of the same event:
each is common to many users and events (an hour, an app, a screen name, a ~5 km cell...).
An exact time would join; ``hour`` does not. Every other field is checked for joins,
including any field added later."""


def identifiers(record: dict[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, value) of every non-null scalar outside SHARED (nested ``enc``, ``pseudo``)."""
    for name, value in record.items():
        where = f"{path}{name}"
        if isinstance(value, dict):
            yield from identifiers(value, where + ".")
        elif value is not None and where not in SHARED:
            yield where, str(value)
