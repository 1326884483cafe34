"""The one validator of contract v1: raw bytes (or a parsed object) in, typed event out.

Every entry point of the pipeline (processors, collector, ``privacy-pipeline validate``) uses
this module, so they accept and reject exactly the same payloads. The JSON Schemas in this
package describe the same contract; a unit test proves they agree on the test corpus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from schemas import _reasons
from schemas.events import Event
from schemas.exceptions import InvalidEvent

MAX_EVENT_BYTES: Final = 64 * 1024
"""Largest accepted payload, in bytes; larger ones are rejected before parsing."""

# Built once: constructing a Decoder compiles the type, which costs far more than a decode.
_DECODER: Final[msgspec.json.Decoder[Event]] = msgspec.json.Decoder(Event)
_ENCODER: Final = msgspec.json.Encoder()


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
    try:
        return _representable(_DECODER.decode(raw))
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
    """
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
