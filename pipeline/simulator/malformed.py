"""Deliberately malformed messages: what buggy or hostile clients send.

Each kind breaks one rule of DESIGN.md section 4 so that the pipeline must dead-letter it with a
reason. The oracle counts them as ``invalid`` per input stream.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from pipeline.simulator.model import CONSENT, GEOLOCATION, NAVIGATION

_COMMON_KINDS = (
    "not_json",
    "wrong_type",
    "missing_field",
    "unknown_schema",
    "oversize",
    "bad_timestamp",
    "invalid_utf8",
    "bad_enum",
)
KINDS: Final = {
    NAVIGATION: _COMMON_KINDS,
    GEOLOCATION: (*_COMMON_KINDS, "out_of_range"),
    CONSENT: _COMMON_KINDS,
}
#: Topic weights of malformed messages (most traffic is navigation).
TOPIC_WEIGHTS: Final = {NAVIGATION: 0.70, GEOLOCATION: 0.15, CONSENT: 0.15}

OVERSIZE_BYTES: Final = 70_000  # > 64 KiB
_MARK = "@@INVALID-UTF8@@"

_WRONG_TYPE = {"navigation/1": ("screen", 42), "geolocation/1": ("lat", "48.85"),
               "consent/1": ("purposes", ["advertising"])}  # fmt: skip
_MISSING = {"navigation/1": "screen", "geolocation/1": "lon", "consent/1": "purposes"}
_BAD_ENUM = {"navigation/1": ("type", "swipe"), "geolocation/1": ("app", "platform"),
             "consent/1": ("source", "popup")}  # fmt: skip
_BAD_TIMES = ("2026-04-01 08:00:00", "yesterday", "2026-13-40T25:61:00Z", "1711958400")


def dumps(event: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the apps send it."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _edit(rng: random.Random, event: dict[str, Any], kind: str) -> dict[str, Any]:
    bad = dict(event)
    schema = str(event["schema"])
    if kind == "wrong_type":
        name, value = _WRONG_TYPE[schema]
        bad[name] = value
    elif kind == "missing_field":
        del bad[rng.choice(("user_id", "event_id", _MISSING[schema]))]
    elif kind == "unknown_schema":
        bad["schema"] = rng.choice(("pageview/1", schema.replace("/1", "/9"), "navigation"))
    elif kind == "oversize":
        bad["debug"] = "x" * OVERSIZE_BYTES
    elif kind == "bad_timestamp":
        bad["occurred_at"] = rng.choice(_BAD_TIMES)
    elif kind == "bad_enum":
        name, value = _BAD_ENUM[schema]
        if name == "app":
            bad["app"] = {**event["app"], "platform": "windows-phone"}
        else:
            bad[name] = value
    elif kind == "out_of_range":
        if rng.random() < 0.5:
            bad["lat"] = rng.choice((91.5, -90.01))
        else:
            bad["lon"] = rng.choice((180.5, -200.0))
    elif kind == "invalid_utf8":
        bad["event_id"] = _MARK
    return bad


def corrupt(rng: random.Random, event: dict[str, Any], kind: str) -> bytes:
    """The bytes of ``event`` broken in the way ``kind`` names (see ``KINDS``)."""
    raw = dumps(_edit(rng, event, kind))
    if kind == "not_json":
        return raw[: len(raw) // 2]  # a cut object never closes its brace
    if kind == "invalid_utf8":
        return raw.replace(_MARK.encode(), b"evt-\xff\xfe\xe9")
    return raw
