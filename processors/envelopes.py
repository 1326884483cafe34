"""From one input record to its events: a single event, or each event of an envelope.

An input record is one event or an envelope ``{"schema": "batch/1", "events": [...]}`` of the
events of the one user it is keyed by (DESIGN.md section 3). The engine positions,
de-duplicates and commits by record (an envelope is one offset), but validates, decides, holds
and dead-letters each event on its own: :func:`split` gives it one :class:`Part` per event,
carrying the record's position, the event's own bytes and its index in the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.messages import Msg
from schemas.events import Event
from schemas.exceptions import InvalidEvent
from schemas.validator import decode, decode_message


@dataclass(frozen=True, slots=True)
class Part(Msg):
    """One event of an input record: the record's position, the event's own bytes (``value``).

    ``index`` is its place in the envelope (``None``: the record is this one event, or is
    rejected as a whole); ``result`` is the decoded event or why it is invalid.
    """

    index: int | None = None
    result: Event | InvalidEvent | None = None

    @property
    def source(self) -> str:
        """``topic:partition:offset``, then ``#index`` for an event of an envelope."""
        at = f"{self.topic}:{self.partition}:{self.offset}"
        return at if self.index is None else f"{at}#{self.index}"

    @property
    def seq(self) -> int:
        """The event's index within its record, 0 for a record of one event."""
        return self.index or 0


def split(m: Msg) -> list[Part]:
    """The events of record ``m``, in order, each decoded (or rejected) on its own.

    Every event of an envelope must have the record's key as its ``user_id``: an event of
    another user is rejected alone, so a producer cannot place one user's events on another
    user's partition (where that user's consent would not govern them).
    """
    if isinstance(m, Part):
        return [m]
    items = decode_message(m.value or b"", m.key)
    return [
        Part(m.topic, m.partition, m.offset, m.key, item.raw, m.verified, item.index, item.result)
        for item in items
    ]


def located(reason: str, m: Msg) -> str:
    """``reason`` prefixed with the event's place when it is one event of an envelope."""
    if isinstance(m, Part) and m.index is not None:
        return f"envelope event {m.index}: {reason}"
    return reason


def decoded(m: Msg) -> Event:
    """The event of a part (decoded once by :func:`split`); a plain record is one event.

    Raises:
        InvalidEvent: The event is invalid.
    """
    result = m.result if isinstance(m, Part) else None
    if result is None:
        return decode(m.value or b"")
    if isinstance(result, InvalidEvent):
        raise result
    return result
