"""The schemas test corpus: valid payloads and one invalid payload per contract rule.

Shared by the validator tests (each invalid sample names the field the error must point at)
and the JSON Schema agreement test (decoder and JSON Schemas must give the same verdict on
every sample). Identifier and coordinate values are distinctive so tests can check that no
reason ever echoes them.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

DROP: Any = object()
"""Pass as a field value to :func:`make` to remove the field."""

TS = "2026-11-26T10:15:00+01:00"
APP = {"name": "mm-app", "platform": "ios", "version": "4.2.0"}
PERSONAL = ("C-000123", "dev-7f3a9c", "sess-55aa", "203.0.113.77", "48.8566", "2.3522")
"""Values of user_id, device_id, session_id, ip, lat, lon: never allowed in a reason."""

_COMMON = {"event_id": "ev-0001", "user_id": "C-000123", "occurred_at": TS}
_OPTIONAL = {"device_id": "dev-7f3a9c", "session_id": "sess-55aa", "ip": "203.0.113.77"}
MINIMAL: dict[str, dict[str, Any]] = {
    "navigation/1": {
        "schema": "navigation/1",
        **_COMMON,
        "app": APP,
        "type": "screen_view",
        "screen": "contracts",
    },
    "geolocation/1": {
        "schema": "geolocation/1",
        **_COMMON,
        "app": APP,
        "lat": 48.8566,
        "lon": 2.3522,
    },
    "consent/1": {
        "schema": "consent/1",
        **_COMMON,
        "purposes": {"audience_measurement": True, "advertising": False},
        "source": "banner",
    },
    "rights/1": {"schema": "rights/1", **_COMMON, "right": "erasure"},
}
FULL: dict[str, dict[str, Any]] = {
    "navigation/1": {
        **MINIMAL["navigation/1"],
        **_OPTIONAL,
        "referrer": "https://example.org/home",
        "campaign": "spring-2026",
    },
    "geolocation/1": {**MINIMAL["geolocation/1"], **_OPTIONAL, "accuracy_m": 12.5},
    "consent/1": {
        **MINIMAL["consent/1"],
        **_OPTIONAL,
        "app": APP,
        "tcf": "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.YAAAAAAAAAAA",
        "gpc": True,
    },
    "rights/1": {
        **MINIMAL["rights/1"],
        **_OPTIONAL,
        "app": APP,
        "right": "objection",
        "purposes": ["fraud_prevention"],
    },
}


class Sample(NamedTuple):
    """One payload; ``field`` is the field an invalid sample's error must name."""

    name: str
    raw: bytes
    field: str | None = None


def make(kind: str, /, **changes: Any) -> dict[str, Any]:
    """A copy of the minimal event of schema ``kind`` with ``changes`` applied."""
    event = copy.deepcopy(MINIMAL[kind])
    for name, value in changes.items():
        if value is DROP:
            event.pop(name, None)
        else:
            event[name] = value
    return event


def dump(obj: Any) -> bytes:
    """UTF-8 JSON of ``obj`` (non-ASCII kept as is)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _with_app(**changes: Any) -> dict[str, Any]:
    return make("navigation/1", app={**APP, **changes})


def _valid() -> list[Sample]:
    samples = [Sample(f"minimal {s}", dump(e)) for s, e in MINIMAL.items()]
    samples += [Sample(f"full {s}", dump(e)) for s, e in FULL.items()]
    geo = "geolocation/1"
    samples += [
        Sample("north pole", dump(make(geo, lat=90, lon=0))),
        Sample("south pole", dump(make(geo, lat=-90.0, lon=0))),
        Sample("antimeridian east", dump(make(geo, lat=0, lon=180))),
        Sample("antimeridian west", dump(make(geo, lat=0, lon=-180.0))),
        Sample(
            "exponent coordinates",
            b'{"schema":"geolocation/1","event_id":"e","user_id":"u",'
            b'"occurred_at":"2026-01-01T00:00:00Z","app":{"name":"a","platform":"web",'
            b'"version":"1"},"lat":9e1,"lon":-1.8E2,"accuracy_m":0}',
        ),
        Sample("optional fields null", dump(make("navigation/1", device_id=None, ip=None))),
        Sample(
            "consent without app, unknown purpose", dump(make("consent/1", purposes={"x": True}))
        ),
        Sample("consent empty purposes with gpc", dump(make("consent/1", purposes={}, gpc=True))),
        Sample("consent app null", dump(make("consent/1", app=None))),
        Sample("rights access", dump(make("rights/1", right="access"))),
        Sample("rights portability", dump(make("rights/1", right="portability"))),
        Sample("rights rectification", dump(make("rights/1", right="rectification"))),
        Sample("rights objection no purposes", dump(make("rights/1", right="objection"))),
        Sample(
            "android page_view",
            dump(make("navigation/1", type="page_view", app={**APP, "platform": "android"})),
        ),
        Sample(
            "web action", dump(make("navigation/1", type="action", app={**APP, "platform": "web"}))
        ),
        Sample(
            "ids at max length", dump(make("navigation/1", event_id="e" * 128, user_id="u" * 128))
        ),
        Sample("screen of 512 emoji", dump(make("navigation/1", screen="🏥" * 512))),
        Sample(
            "escaped surrogate pair",
            dump(make("navigation/1", screen="\U0001f600")).replace(
                "😀".encode(), b"\\ud83d\\ude00"
            ),
        ),
        Sample("whitespace around", b"  \n" + dump(MINIMAL["rights/1"]) + b"\n  "),
        Sample("padded to exactly 64 KiB", _pad(dump(MINIMAL["rights/1"]), 65536)),
    ]
    return samples + [
        Sample(f"timestamp {ts}", dump(make("rights/1", occurred_at=ts))) for ts in VALID_TIMESTAMPS
    ]


VALID_TIMESTAMPS = (
    "2026-11-26T09:15:00Z",
    "2026-11-26T10:15:00.123456+01:00",
    "2026-11-26T10:15:00.123456789-05:30",
    "2026-11-26t10:15:00z",
    "2026-11-26 10:15:00+01:00",
    "2026-11-26T10:15:00+0100",
    "2024-02-29T00:00:00Z",
    "2000-02-29T23:59:59-23:59",
    "0001-01-01T00:00:00+00:00",
)
BAD_TIMESTAMPS = (
    "2026-11-26T10:15:00",  # naive
    "2026-11-26",
    "2026-11-26T10:15Z",
    "garbage",
    "",
    "1764148500",
    "2026-02-30T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-26T24:00:00Z",
    "2026-11-26T10:60:00Z",
    "2026-11-26T10:15:60Z",
    "2026-11-26T10:15:00+24:00",
    "2026-11-26T10:15:00+01",
    "2026-11-26T10:15:00.Z",
    "2026-11-26T10:15:00,5Z",
    "2026-11-26T10:15:00Z\n",
    " 2026-11-26T10:15:00Z",
    "2026-11-26T10:15:00 Z",
    "2026-W48-4T10:15:00Z",
    "٢٠٢٦-11-26T10:15:00Z",  # non-ASCII digits
)


def _pad(raw: bytes, size: int) -> bytes:
    return raw + b" " * (size - len(raw))


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _payload_level() -> list[Sample]:
    ok = dump(MINIMAL["rights/1"])
    return [
        Sample("oversize by padding", _pad(ok, 65537)),
        Sample("oversize string", dump(make("navigation/1", screen="s" * 70_000))),
        Sample("not JSON", b"hello"),
        Sample("empty", b""),
        Sample("truncated", ok[:-1]),
        Sample("trailing garbage", ok + b" x"),
        Sample("two objects", ok + ok),
        Sample("NaN latitude", dump(make("geolocation/1")).replace(b"48.8566", b"NaN")),
        Sample("Infinity latitude", dump(make("geolocation/1")).replace(b"48.8566", b"Infinity")),
        Sample("-Infinity longitude", dump(make("geolocation/1")).replace(b"2.3522", b"-Infinity")),
        Sample("non-UTF-8 in user_id", ok.replace(b"C-000123", b"C-\xff\xfe0123")),
        Sample("non-UTF-8 first byte", b"\xff" + ok),
        Sample("overlong UTF-8", ok.replace(b"ev-0001", b"ev-\xc0\xaf")),
        Sample("UTF-8 BOM", b"\xef\xbb\xbf" + ok),
        Sample("lone surrogate escape", ok.replace(b"ev-0001", b"ev-\\ud800")),
        Sample("control character in string", ok.replace(b"ev-0001", b"ev\t0001")),
        Sample("array", b"[]"),
        Sample("string", b'"navigation/1"'),
        Sample("number", b"42"),
        Sample("null", b"null"),
        Sample("array of an event", b"[" + ok + b"]"),
        Sample("deep arrays", _nested(20_000)),
        Sample("deep objects before schema", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        Sample("deep value before schema", b'{"x":' + _nested(5000) + b',"schema":"rights/1"}'),
    ]


def _field_level() -> list[tuple[str, dict[str, Any], str | None]]:
    nav, geo, con, rig = "navigation/1", "geolocation/1", "consent/1", "rights/1"
    return [
        ("missing schema", make(rig, schema=DROP), "schema"),
        ("unknown schema", make(rig, schema="navigation/2"), "schema"),
        ("empty schema", make(rig, schema=""), "schema"),
        ("schema not a string", make(rig, schema=1), "schema"),
        ("schema null", make(rig, schema=None), "schema"),
        ("unknown field", make(nav, extra=1), "extra"),
        ("unknown field, case", make(nav, Screen="x"), "Screen"),
        ("unknown field in app", _with_app(build=7), "app.build"),
        ("deep unknown field", {**make(nav), "extra": json.loads(_nested(500))}, "extra"),
        ("user_id number", make(nav, user_id=123123), "user_id"),
        ("user_id null", make(nav, user_id=None), "user_id"),
        ("user_id empty", make(nav, user_id=""), "user_id"),
        ("user_id huge", make(nav, user_id="C-000123" * 20), "user_id"),
        ("user_id nested", make(nav, user_id=[["C-000123"]]), "user_id"),
        ("event_id empty", make(nav, event_id=""), "event_id"),
        ("event_id huge", make(nav, event_id="e" * 60_000), "event_id"),
        ("device_id empty", make(nav, device_id=""), "device_id"),
        ("device_id huge", make(nav, device_id="dev-7f3a9c" * 13), "device_id"),
        ("session_id number", make(nav, session_id=55), "session_id"),
        ("ip huge", make(nav, ip="203.0.113.77" * 6), "ip"),
        ("ip object", make(nav, ip={"v4": "203.0.113.77"}), "ip"),
        ("screen empty", make(nav, screen=""), "screen"),
        ("screen huge", make(nav, screen="s" * 513), "screen"),
        ("screen null", make(nav, screen=None), "screen"),
        ("referrer huge", make(nav, referrer="r" * 2049), "referrer"),
        ("campaign empty", make(nav, campaign=""), "campaign"),
        ("bad navigation type", make(nav, type="click"), "type"),
        ("navigation type number", make(nav, type=1), "type"),
        ("missing app on navigation", make(nav, app=DROP), "app"),
        ("app null on navigation", make(nav, app=None), "app"),
        ("missing app on geolocation", make(geo, app=DROP), "app"),
        ("app a string", make(nav, app="mm-app"), "app"),
        ("bad platform", _with_app(platform="windows"), "app.platform"),
        ("platform uppercase", _with_app(platform="IOS"), "app.platform"),
        ("app name empty", _with_app(name=""), "app.name"),
        ("app version missing", make(nav, app={"name": "a", "platform": "ios"}), "app.version"),
        ("app version number", _with_app(version=4.2), "app.version"),
        ("lat above 90", make(geo, lat=90.000001), "lat"),
        ("lat below -90", make(geo, lat=-91.25), "lat"),
        ("lon above 180", make(geo, lon=180.5), "lon"),
        ("lon below -180", make(geo, lon=-181), "lon"),
        ("lat a string", make(geo, lat="48.8566"), "lat"),
        ("lat a boolean", make(geo, lat=True), "lat"),
        ("lat null", make(geo, lat=None), "lat"),
        ("lon missing", make(geo, lon=DROP), "lon"),
        ("huge latitude", make(geo, lat=1e308), "lat"),
        ("accuracy negative", make(geo, accuracy_m=-1), "accuracy_m"),
        ("accuracy absurd", make(geo, accuracy_m=1e9), "accuracy_m"),
        ("accuracy a string", make(geo, accuracy_m="12"), "accuracy_m"),
        ("consent purpose value string", make(con, purposes={"advertising": "yes"}), "purposes"),
        ("consent purpose value number", make(con, purposes={"advertising": 1}), "purposes"),
        ("consent purpose value null", make(con, purposes={"advertising": None}), "purposes"),
        ("consent purposes a list", make(con, purposes=["advertising"]), "purposes"),
        ("consent purposes missing", make(con, purposes=DROP), "purposes"),
        ("consent purpose name empty", make(con, purposes={"": True}), "purposes"),
        ("consent purpose name huge", make(con, purposes={"p" * 65: True}), "purposes"),
        (
            "consent too many purposes",
            make(con, purposes={f"p{i}": True for i in range(65)}),
            "purposes",
        ),
        ("consent bad source", make(con, source="popup"), "source"),
        ("consent source missing", make(con, source=DROP), "source"),
        ("consent gpc string", make(con, gpc="1"), "gpc"),
        ("consent tcf with space", make(con, tcf="CPX x"), "tcf"),
        ("consent tcf empty", make(con, tcf=""), "tcf"),
        ("consent tcf huge", make(con, tcf="C" * 16385), "tcf"),
        ("consent tcf trailing newline", make(con, tcf="CPX\n"), "tcf"),
        ("consent app wrong", make(con, app={"name": "a"}), "app.platform"),
        ("rights bad right", make(rig, right="forget"), "right"),
        ("rights right uppercase", make(rig, right="ERASURE"), "right"),
        ("rights right missing", make(rig, right=DROP), "right"),
        ("rights right list", make(rig, right=["erasure"]), "right"),
        ("rights purposes object", make(rig, purposes={"a": True}), "purposes"),
        ("rights purpose empty", make(rig, purposes=["advertising", ""]), "purposes"),
        ("rights purpose number", make(rig, purposes=[3]), "purposes"),
        ("rights too many purposes", make(rig, purposes=["p"] * 65), "purposes"),
        ("occurred_at number", make(rig, occurred_at=1764148500), "occurred_at"),
        ("occurred_at missing", make(rig, occurred_at=DROP), "occurred_at"),
        *[(f"timestamp {ts!r}", make(rig, occurred_at=ts), "occurred_at") for ts in BAD_TIMESTAMPS],
    ]


VALID: list[Sample] = _valid()
INVALID: list[Sample] = _payload_level() + [
    Sample(name, dump(obj), field) for name, obj, field in _field_level()
]
