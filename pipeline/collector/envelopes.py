"""The records of one request as Kafka messages: a user's events on a topic share a message.

The accepted events of one request are grouped by (topic, user, subject-verified header) in
request order; a group of one stays a plain single-event message, a larger group becomes an
envelope ``{"schema": "batch/1", "events": [...]}`` (DESIGN.md section 3), split so that no
message exceeds 1 MiB nor 500 events. Each Kafka message costs the worker one delivery
whatever it holds, so a request's events pay it once per user instead of once per event.
Order is kept within a group (one user's events on one partition), which is all Kafka orders.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.collector.intake import Record
from schemas.envelope import (
    ENVELOPE_SCHEMA,
    MAX_ENVELOPE_EVENTS,
    PACK_MAX_BYTES,
    WRAP_OVERHEAD,
    wrap,
)

_Group = tuple[str, bytes, bool | None]


def pack(
    records: Sequence[Record],
    max_bytes: int = PACK_MAX_BYTES,
    max_events: int = MAX_ENVELOPE_EVENTS,
) -> list[Record]:
    """The messages to produce for ``records`` (one record per accepted event).

    Args:
        records: The request's accepted events, in request order, each keyed by its user.
        max_bytes: Largest envelope, in bytes.
        max_events: Most events in one envelope.

    Returns:
        One message per group of at most ``max_events`` events and ``max_bytes`` bytes of
        one (topic, key, verified): the record itself when alone, else an envelope record
        with the same topic, key and header.
    """
    groups: dict[_Group, list[list[Record]]] = {}
    sizes: dict[_Group, int] = {}  # bytes of the group's last envelope so far
    for record in records:
        group = (record.topic, record.key, record.verified)
        chunks = groups.setdefault(group, [[]])
        size = sizes.get(group, WRAP_OVERHEAD - 1) + 1 + len(record.value)
        if chunks[-1] and (len(chunks[-1]) >= max_events or size > max_bytes):
            chunks.append([])
            size = WRAP_OVERHEAD + len(record.value)
        chunks[-1].append(record)
        sizes[group] = size
    return [_message(chunk) for chunks in groups.values() for chunk in chunks]


def _message(chunk: list[Record]) -> Record:
    if len(chunk) == 1:
        return chunk[0]
    first = chunk[0]
    value = wrap([r.value for r in chunk])
    return Record(first.topic, first.key, value, ENVELOPE_SCHEMA, first.verified)
