"""Turn msgspec's decode errors into precise, id-free reasons for :class:`InvalidEvent`.

msgspec reports ``<message> - at `<path>```; this module splits the path into a dotted field
name and rewrites the message into plain words. msgspec never echoes the value of a string or
number field (only lengths, types and bounds), so the only values that can reach a reason are
enumerated ones (``schema``, ``app.platform``...) and unknown field names; both are clipped
and escaped here, and neither is an identifier or coordinate field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from schemas.events import CHOICES, RANGES
from schemas.exceptions import InvalidEvent

_CLIP = 32
_TYPE_WORDS = {
    "str": "a string",
    "float": "a number",
    "int": "an integer",
    "bool": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
    "datetime": "an RFC 3339 date-time string",
}
_CONTAINER_UNITS = {"str": "characters", "array": "items", "object": "entries"}
_EXAMPLE_TIME = "2026-11-26T10:15:00+01:00"
TOO_DEEP = "event: JSON nested too deeply; contract v1 nests at most two levels"
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.\-]")
_BYTE_AT = re.compile(r"\(byte (\d+)\)$")


def clip(value: str) -> str:
    """Quote an input-controlled snippet: at most 32 characters, control characters escaped."""
    short = value if len(value) <= _CLIP else value[:_CLIP] + "…"
    return repr(short)


def _words(types: str) -> str:
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types.split(" | "))


def _split_path(message: str) -> tuple[str, str, str | None]:
    """``(core message, subject for the reason, field path or None)``."""
    core, sep, at = message.rpartition(" - at `")
    if not sep:
        return message, "event", None
    at = at.removesuffix("`")
    suffix = ""
    if at.startswith("key` in `"):
        at, suffix = at.removeprefix("key` in `"), " keys"
    path = at.removeprefix("$").removeprefix(".")
    match = re.fullmatch(r"(.*?)\[(\.\.\.|\d+)\]", path)
    if match:
        path, index = match.groups()
        suffix = " values" if index == "..." else f" item {index}"
    return core, (path + suffix) if path else "event", path or None


def _expected(core: str, field: str | None) -> str:
    match = re.fullmatch(r"Expected `([^`]+)`(?:, got `([^`]+)`)?(?: (.*))?", core)
    if match is None:
        return core[:1].lower() + core[1:]
    types, got, rest = match.groups()
    if field in RANGES and types in ("float", "int") and got is None:
        low, high = RANGES[field]
        return f"expected a finite number between {low:g} and {high:g}"
    if field == "schema":
        return f"expected a string, one of {', '.join(CHOICES['schema'])}"
    words = _words(types)
    length = re.fullmatch(r"of length ([<>]=) (\d+)", rest or "")
    if length and length.group(1) == ">=" and length.group(2) == "1":
        words = f"a non-empty {words.removeprefix('a ').removeprefix('an ')}"
    elif length:
        bound = "at most" if length.group(1) == "<=" else "at least"
        words = f"{words} of {bound} {length.group(2)} {_CONTAINER_UNITS.get(types, 'items')}"
    elif rest:
        words = f"{words} {rest}"
    return f"expected {words}" + (f", got {_words(got)}" if got else "")


def _missing(name: str, field: str | None) -> tuple[str, str]:
    path = f"{field}.{name}" if field else name
    if path == "schema":
        return path, f"schema: missing; expected one of {', '.join(CHOICES['schema'])}"
    return path, f"{path}: missing required field"


def _unknown(name: str, field: str | None) -> tuple[str, str]:
    # The name is client-chosen: keep it short and plain so reason and field stay printable.
    path = f"{field}.{name}" if field else name
    shown = _NOT_PLAIN.sub("?", path[:_CLIP]) + ("…" if len(path) > _CLIP else "")
    return shown, f"{shown}: unknown field; contract v1 does not allow it, remove it"


_NAMED: tuple[tuple[str, Callable[[str, str | None], tuple[str, str]]], ...] = (
    ("Object missing required field `", _missing),
    ("Object contains unknown field `", _unknown),
)


def _enum(core: str, field: str | None) -> str | None:
    for prefix in ("Invalid enum value ", "Invalid value "):
        if core.startswith(prefix):
            value = core.removeprefix(prefix).strip("'")
            allowed = ", ".join(CHOICES.get(field or "", ()))
            what = "unknown schema" if field == "schema" else "invalid value"
            return f"{what} {clip(value)}; expected one of {allowed}"
    return None


def _special(core: str, field: str | None) -> str | None:
    if core == "Invalid RFC3339 encoded datetime":
        return f"expected an RFC 3339 date-time with offset, e.g. {_EXAMPLE_TIME}"
    if core == "Expected `datetime` with a timezone component":
        return "date-time has no UTC offset; add Z or an offset such as +01:00"
    if core.startswith("Expected `str` matching regex") and field == "tcf":
        return "expected an IAB TCF string (letters, digits and - _ . only)"
    if core == "Number out of range" and field in RANGES:
        low, high = RANGES[field]
        return f"expected a finite number between {low:g} and {high:g}"
    return None


def from_validation(exc: msgspec.ValidationError) -> InvalidEvent:
    """Build the :class:`InvalidEvent` for a msgspec validation error."""
    core, subject, field = _split_path(str(exc))
    for prefix, build in _NAMED:
        if core.startswith(prefix):
            name = core.removeprefix(prefix).removesuffix("`")
            path, reason = build(name, field)
            return InvalidEvent(reason, path)
    text = _special(core, field) or _enum(core, field) or _expected(core, field)
    return InvalidEvent(f"{subject}: {text}", field)


def from_malformed(raw: bytes | bytearray | memoryview, exc: Exception) -> InvalidEvent:
    """Build the :class:`InvalidEvent` for bytes that are not UTF-8 JSON."""
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError as bad:
        # Position only: the offending bytes may belong to an identifier.
        return InvalidEvent(f"event: not valid UTF-8 at byte {bad.start}; send UTF-8 JSON")
    if isinstance(exc, UnicodeDecodeError):
        return InvalidEvent("event: a string is not valid UTF-8; send UTF-8 JSON")
    detail = str(exc)
    if detail == "Input data was truncated":
        detail = "input ends early (truncated or empty)"
    detail = detail.removeprefix("JSON is malformed: ")
    at = _BYTE_AT.search(detail)
    if at and bytes(raw[int(at.group(1)) :]).lstrip(b"-").startswith((b"NaN", b"Inf")):
        detail = f"NaN and Infinity are not JSON numbers (byte {at.group(1)})"
    return InvalidEvent(f"event: not valid JSON: {detail}")
