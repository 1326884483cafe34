"""The one validator of contract v1: raw bytes (or a parsed object) in, typed event out.

Every entry point of the pipeline (processors, collector, ``privacy-pipeline validate``) uses
this module, so they accept and reject exactly the same payloads. The JSON Schemas in this
package describe the same contract; a unit test proves they agree on the test corpus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec

from schemas import _reasons
from schemas.envelope import ENVELOPE_SCHEMA, MAX_ENVELOPE_BYTES, Envelope
from schemas.events import Event
from schemas.exceptions import InvalidEvent

MAX_EVENT_BYTES: Final = 64 * 1024
"""Largest accepted payload, in bytes; larger ones are rejected before parsing."""

# Built once: constructing a Decoder compiles the type, which costs far more than a decode.
_DECODER: Final[msgspec.json.Decoder[Event]] = msgspec.json.Decoder(Event)
_ENCODER: Final = msgspec.json.Encoder()
# One pass tells a single event from an envelope (both are tagged by ``schema``).
_MESSAGE_DECODER: Final[msgspec.json.Decoder[Event | Envelope]] = msgspec.json.Decoder(
    Event | Envelope
)
_ENVELOPE_DECODER: Final[msgspec.json.Decoder[Envelope]] = msgspec.json.Decoder(Envelope)


class _Tag(msgspec.Struct):
    schema: Any = None


_TAG_DECODER: Final = msgspec.json.Decoder(_Tag)
_T = TypeVar("_T")


def decode(raw: bytes | bytearray | memoryview) -> Event:
    """Decode and validate one event payload.

    Args:
        raw: The UTF-8 JSON bytes of one event (a Kafka message value, one HTTP batch item).

    Returns:
        The typed event: a ``Navigation``, ``Geolocation``, ``Consent`` or ``Rights``.

    Raises:
        InvalidEvent: The payload is over 64 KiB, not UTF-8 JSON, not an object, of a missing
            or unknown schema, or a field is missing, unknown, mistyped or out of range. The
            reason names the field and never carries an identifier or a coordinate.
    """
    size = len(raw) if not isinstance(raw, memoryview) else raw.nbytes
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event: payload is {size} bytes, over the {MAX_EVENT_BYTES}-byte (64 KiB) limit; "
            "send smaller events"
        )
    return _representable(_translated(_DECODER, raw))


def _translated(decoder: msgspec.json.Decoder[_T], raw: bytes | bytearray | memoryview) -> _T:
    """``decoder.decode(raw)``, its errors translated to :class:`InvalidEvent` reasons."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _reasons.from_validation(exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _reasons.from_malformed(raw, exc) from None
    except RecursionError:
        # msgspec skips a value nested ~1000 deep (before it has seen ``schema``) recursively;
        # no contract field nests more than two levels, so this is just a bad payload.
        raise InvalidEvent(_reasons.TOO_DEEP) from None


def decode_obj(obj: Any) -> Event:
    """Validate one already-parsed event (e.g. an item of a collector's JSON batch).

    Accepts what a JSON parser produces (dict, list, str, int, float, bool, None), and also
    tz-aware ``datetime`` values for ``occurred_at``. The 64 KiB limit is the caller's: the
    bytes are gone, but the field limits keep any accepted event far below it.

    Args:
        obj: The parsed event, normally a ``dict``.

    Returns:
        The typed event.

    Raises:
        InvalidEvent: Same rules and reasons as :func:`decode`.
    """
    try:
        event: Event = msgspec.convert(obj, Event, strict=True)
    except msgspec.ValidationError as exc:
        raise _reasons.from_validation(exc) from None
    except RecursionError:
        raise InvalidEvent(_reasons.TOO_DEEP) from None
    return _representable(event)


def _representable(event: Event) -> Event:
    """Reject a valid RFC 3339 instant that has no UTC equivalent (year 1 at +01:00, …).

    Every consumer works in UTC (hours, days, epochs); such an instant would be a poison pill.
    Offsets are under a day, so only the first and last years can fall outside.
    """
    if 1 < event.occurred_at.year < 9999:
        return event
    try:
        utc = event.occurred_at.astimezone(UTC)
        datetime.fromtimestamp(utc.timestamp() // 86400 * 86400, UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidEvent(
            "occurred_at: outside the range a UTC date-time can hold; send a real event time",
            "occurred_at",
        ) from None
    return event


def encode(event: Event) -> bytes:
    """Encode an event back to its contract JSON (``None`` fields omitted).

    ``decode(encode(event)) == event`` for every valid event.
    """
    return _ENCODER.encode(event)


class Item(msgspec.Struct, frozen=True, gc=False):
    """One event of a message: its place, its own bytes, and the event or why it is invalid.

    ``index`` is the event's position in its envelope, ``None`` for a message that is one
    event (or that is rejected as a whole: then ``raw`` is the whole message). A Struct: made
    once per event on the worker's hot path, where a dataclass costs five times more.
    """

    index: int | None
    raw: bytes
    result: Event | InvalidEvent


def decode_message(raw: bytes, key: bytes | None = None) -> list[Item]:
    """Split one input message into its events, each validated on its own.

    Args:
        raw: A Kafka message value: one event, or an envelope ``{"schema": "batch/1",
            "events": [...]}`` (DESIGN.md section 3).
        key: The message key. Every event of an envelope must have it as its ``user_id``
            (an event of another user is rejected alone); an envelope without a key is
            rejected as a whole. A single event is not checked against the key.

    Returns:
        One item per event, in order. A message that is not a well-formed envelope nor an
        event gives one invalid item with ``index`` None and the whole message as ``raw``.
    """
    size = len(raw)
    try:
        if size > MAX_ENVELOPE_BYTES:
            raise InvalidEvent(
                f"message: {size} bytes, over the {MAX_ENVELOPE_BYTES}-byte (1 MiB) limit of an "
                "envelope; send smaller batches"
            )
        decoded = _decode_large(raw) if size > MAX_EVENT_BYTES else _decode_any(raw)
        if isinstance(decoded, Envelope):
            if not key:
                raise InvalidEvent(
                    "envelope: the message has no key; key an envelope by its events' user_id"
                )
            return [_item(index, part, key) for index, part in enumerate(decoded.events)]
        return [Item(None, raw, decoded)]
    except InvalidEvent as exc:
        return [Item(None, raw, exc)]


def _decode_any(raw: bytes) -> Event | Envelope:
    decoded = _translated(_MESSAGE_DECODER, raw)
    return decoded if isinstance(decoded, Envelope) else _representable(decoded)


def _decode_large(raw: bytes) -> Envelope:
    """A message over the event limit: an envelope, or rejected for its size."""
    try:
        return _ENVELOPE_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        error = _reasons.from_validation(exc)
        if error.field not in (None, "schema"):  # an envelope of the wrong shape
            raise error from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    raise InvalidEvent(
        f"event: payload is {len(raw)} bytes, over the {MAX_EVENT_BYTES}-byte (64 KiB) limit; "
        "send smaller events"
    )


def _item(index: int, part: msgspec.Raw, key: bytes) -> Item:
    raw = bytes(part)
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        return Item(index, raw, _nested(raw) or exc)
    if event.user_id.encode() != key:
        reason = "user_id: not the message key; an envelope holds the events of one user"
        return Item(index, raw, InvalidEvent(reason, "user_id"))
    return Item(index, raw, event)


def _nested(raw: bytes) -> InvalidEvent | None:
    """The reason for an envelope inside an envelope (else the event's own reason stands)."""
    try:
        tag = _TAG_DECODER.decode(raw).schema
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
    if tag != ENVELOPE_SCHEMA:
        return None
    return InvalidEvent("schema: an envelope cannot hold an envelope; send its events", "schema")
