"""The kinds of adversarial message: one maker per way a client can be wrong or hostile.

Each maker returns ``(topic, event or raw bytes, expectation, kind)``; the expectation is
what the contract (DESIGN.md section 4, the JSON Schemas) requires: ``valid`` decided,
``invalid`` dead-lettered with a reason, ``either`` one of the two (never lost, never fatal).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pipeline.topics import CONSENT, GEOLOCATION, NAVIGATION
from tests.support.fuzzbase import (
    BAD_TIMES,
    EXTREME_TIMES,
    POLES,
    SQL_SCREENS,
    UNICODE_SCREENS,
    UNREPRESENTABLE_TIMES,
    Builder,
    Event,
    Expect,
    dumps,
)

_DAY = timedelta(days=1)
_TOPIC = {"navigation/1": NAVIGATION, "geolocation/1": GEOLOCATION, "consent/1": CONSENT,
          "rights/1": CONSENT}
Made = tuple[str, Event | bytes, Expect, str]
"""(topic, event or raw bytes, expectation, kind)."""
Maker = Callable[[Builder], Made]


def _on(event: Event) -> str:
    return _TOPIC.get(str(event.get("schema")), NAVIGATION)


def _base(b: Builder) -> Event:
    return b.rng.choice((b.navigation, b.navigation, b.geolocation, b.consent))()


def _other_type(rng: random.Random, value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    choices = [v for v in (42, "text", True, None, [1], {"a": 1}, 1.5) if type(v) is not
               type(value) and not (number and isinstance(v, int | float) and v is not True)]
    return rng.choice(choices)


def _wrong_type(b: Builder) -> Made:
    event = _base(b)
    field = b.rng.choice(sorted(set(event) - {"schema"}))
    return _on(event), {**event, field: _other_type(b.rng, event[field])}, "invalid", "wrong_type"


_REQUIRED = {"navigation/1": ("event_id", "user_id", "occurred_at", "app", "type", "screen"),
             "geolocation/1": ("event_id", "user_id", "occurred_at", "app", "lat", "lon"),
             "consent/1": ("event_id", "user_id", "occurred_at", "purposes", "source")}


def _missing(b: Builder) -> Made:
    event = _base(b)
    del event[b.rng.choice(_REQUIRED[event["schema"]])]
    return _on(event), event, "invalid", "missing_field"


def _unknown_field(b: Builder) -> Made:
    name = b.rng.choice(("extra", "__proto__", "$where", "constructor", "Screen", "user_id "))
    event = _base(b)
    return _on(event), {**event, name: {"a": 1}}, "invalid", "unknown_field"


def _bad_schema(b: Builder) -> Made:
    event = _base(b)
    topic = _on(event)
    event["schema"] = b.rng.choice(("navigation/2", "Navigation/1", "", "navigation/1 ", "x" * 500))
    return topic, event, "invalid", "unknown_schema"


def _too_long(b: Builder) -> Made:
    field, size = b.rng.choice((("screen", 513), ("event_id", 129), ("user_id", 129),
                                ("referrer", 2049), ("campaign", 257)))
    if b.rng.random() < 0.05:  # now and then really huge, still under 64 KiB in all
        size = b.rng.choice((20_000, 60_000))
    return NAVIGATION, b.navigation(**{field: "w" * size}), "invalid", "huge_string"


def _oversize(b: Builder) -> Made:
    return NAVIGATION, b.navigation(debug="x" * 70_000), "invalid", "oversize"


def _deep(b: Builder) -> Made:
    depth = b.rng.choice((64, 1000, 30_000))
    nested = b"[" * depth + b"]" * depth if depth > 64 else dumps(_nest(depth))
    raw = dumps(b.navigation(screen="MARK")).replace(b'"MARK"', nested)
    return NAVIGATION, raw, "invalid", "deep_nesting"


def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def _bad_utf8(b: Builder) -> Made:
    raw = dumps(b.navigation(screen="MARK"))
    bad = b.rng.choice((b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9t\xe9"))
    return NAVIGATION, raw.replace(b"MARK", b"s" + bad), "invalid", "invalid_utf8"


def _bad_time(b: Builder) -> Made:
    event = _base(b)
    return _on(event), {**event, "occurred_at": b.rng.choice(BAD_TIMES)}, "invalid", "bad_timestamp"


def _bad_coords(b: Builder) -> Made:
    if b.rng.random() < 0.2:
        raw = dumps(b.geolocation(lat="LAT")).replace(b'"LAT"', b"NaN")
        return GEOLOCATION, raw, "invalid", "nan_coordinates"
    lat, lon = b.rng.choice(((90.000001, 0.0), (-90.5, 0.0), (0.0, 180.000001), (0.0, -180.5),
                             (1e300, 0.0), (0.0, -1e300)))
    return GEOLOCATION, b.geolocation(lat=lat, lon=lon), "invalid", "out_of_range"


def _not_json(b: Builder) -> Made:
    raw = dumps(_base(b))
    junk = b.rng.choice((raw[: len(raw) // 2], b"", b"[]", b"null", b"42", b'"x"', b"{",
                         raw + b"}", b"\x00" * 10))
    return b.rng.choice((NAVIGATION, GEOLOCATION, CONSENT)), junk, "invalid", "not_json"


def _wrong_topic(b: Builder) -> Made:
    return NAVIGATION, b.consent(), "invalid", "wrong_topic"


def _sql(b: Builder) -> Made:
    return NAVIGATION, b.navigation(screen=b.rng.choice(SQL_SCREENS)), "valid", "sql_screen"


def _unicode(b: Builder) -> Made:
    return NAVIGATION, b.navigation(screen=b.rng.choice(UNICODE_SCREENS)), "valid", "unicode"


def _poles(b: Builder) -> Made:
    lat, lon = b.rng.choice(POLES)
    return GEOLOCATION, b.geolocation(lat=lat, lon=lon), "valid", "poles_antimeridian"


def _time_bounds(b: Builder) -> Made:
    now, minute = b.now, timedelta(minutes=1)
    bounds = [now - 7 * _DAY + 10 * minute, now - 7 * _DAY - 10 * minute, now + 4 * minute,
              now + 10 * minute]
    stamp = b.rng.choice([t.isoformat() for t in bounds] + list(EXTREME_TIMES))
    event = _base(b)
    return _on(event), {**event, "occurred_at": stamp}, "valid", "time_bounds"


def _unrepresentable(b: Builder) -> Made:
    event = {**_base(b), "occurred_at": b.rng.choice(UNREPRESENTABLE_TIMES)}
    return _on(event), event, "either", "unrepresentable_time"


def _max_lengths(b: Builder) -> Made:
    event = b.navigation(screen="m" * 512, referrer="https://r/" + "r" * 2038,
                         campaign="c" * 256, device_id="d" * 128, ip="i" * 64)
    event["event_id"] = f"{event['event_id']}-".ljust(128, "e")
    return NAVIGATION, event, "valid", "max_lengths"


def _odd_consent(b: Builder) -> Made:
    event = b.consent(gpc=b.rng.random() < 0.5, tcf=b.rng.choice(("garbage", "C" * 300)))
    event["purposes"]["telepathy"] = True
    return CONSENT, event, "valid", "odd_consent"


def _rights(b: Builder) -> Made:
    right = b.rng.choice(("objection", "access", "portability", "rectification", "objection"))
    event = {**b._head("rights/1"), "right": right}
    if right == "objection":
        event["purposes"] = b.rng.choice((["fraud_prevention"], ["unknown-purpose"], []))
    return CONSENT, event, "valid", "rights"


def ordinary(b: Builder) -> Made:
    event = _base(b)
    return _on(event), event, "valid", "ordinary"


INVALID: tuple[Maker, ...] = (_wrong_type, _missing, _unknown_field, _bad_schema, _too_long,
                              _bad_utf8, _bad_time, _bad_coords, _not_json, _wrong_topic)
ADVERSARIAL_VALID: tuple[Maker, ...] = (_sql, _unicode, _poles, _time_bounds, _max_lengths,
                                        _odd_consent, _rights)
RARE: tuple[Maker, ...] = (_oversize, _deep, _unrepresentable)
HUGE_PAYLOAD_BYTES = 900_000
"""Far over 64 KiB, under Kafka's default 1 MB message limit."""
BURST = 30
"""Oversize events in a row from one user: one partition, one worker batch."""


