"""schemas.validator: every contract rule accepts what it should and rejects with a reason."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from schemas_corpus import INVALID, MINIMAL, PERSONAL, VALID, Sample, dump, make

from pipeline.errors import PipelineError
from schemas import validator
from schemas.events import App, Consent, Geolocation, Navigation, Rights
from schemas.exceptions import InvalidEvent


def _reject(raw: bytes | bytearray | memoryview) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        validator.decode(raw)
    return info.value


@pytest.mark.parametrize("sample", VALID, ids=lambda s: s.name)
def test_valid_samples_decode(sample: Sample) -> None:
    event = validator.decode(sample.raw)
    assert event.schema == json.loads(sample.raw)["schema"]


@pytest.mark.parametrize("sample", INVALID, ids=lambda s: s.name)
def test_invalid_samples_name_the_field(sample: Sample) -> None:
    error = _reject(sample.raw)
    assert error.field == sample.field
    assert error.reason.startswith(f"{sample.field or 'event'}"), error.reason
    assert str(error) == error.reason


@pytest.mark.parametrize("sample", INVALID, ids=lambda s: s.name)
def test_reasons_never_echo_personal_values(sample: Sample) -> None:
    reason = _reject(sample.raw).reason
    assert not [value for value in PERSONAL if value in reason]
    assert len(reason) < 200


def test_decode_returns_typed_events_with_aware_timestamps() -> None:
    nav = validator.decode(dump(MINIMAL["navigation/1"]))
    assert isinstance(nav, Navigation)
    assert nav.app == App(name="mm-app", platform="ios", version="4.2.0")
    assert nav.occurred_at == datetime(2026, 11, 26, 9, 15, tzinfo=UTC)
    assert nav.occurred_at.utcoffset() == timedelta(hours=1)
    assert nav.device_id is None
    geo = validator.decode(dump(make("geolocation/1", lat=90, lon=-180)))
    assert isinstance(geo, Geolocation)
    assert (geo.lat, geo.lon) == (90.0, -180.0)
    assert isinstance(validator.decode(dump(MINIMAL["consent/1"])), Consent)
    assert isinstance(validator.decode(dump(MINIMAL["rights/1"])), Rights)


def test_consent_keeps_unknown_purposes_for_the_processors() -> None:
    event = validator.decode(dump(make("consent/1", purposes={"astrology": True})))
    assert isinstance(event, Consent)
    assert event.purposes == {"astrology": True}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            dump(make("geolocation/1", lat=91.25)),
            "lat: expected a finite number between -90 and 90",
        ),
        (
            dump(make("geolocation/1", lon=-181)),
            "lon: expected a finite number between -180 and 180",
        ),
        (dump(make("navigation/1", user_id="")), "user_id: expected a non-empty string"),
        (
            dump(make("navigation/1", user_id="u" * 129)),
            "user_id: expected a string of at most 128",
        ),
        (dump(make("navigation/1", user_id=5)), "user_id: expected a string, got an integer"),
        (dump(make("navigation/1", extra=1)), "extra: unknown field"),
        (dump(make("navigation/1", app=None)), "app: expected an object, got null"),
        (dump(make("navigation/1", app={"name": "a", "platform": "ios"})), "app.version: missing"),
        (
            dump(make("navigation/1", app={**MINIMAL["navigation/1"]["app"], "platform": "bb"})),
            "app.platform: invalid value 'bb'; expected one of ios, android, web",
        ),
        (dump(make("rights/1", schema="navigation/9")), "schema: unknown schema 'navigation/9'"),
        (dump(make("rights/1", schema=None)), "schema: expected a string"),
        (dump(make("rights/1", right="forget")), "right: invalid value 'forget'; expected one of"),
        (dump(make("consent/1", purposes={"ads": "yes"})), "purposes values: expected a boolean"),
        (dump(make("consent/1", purposes={"": True})), "purposes keys: expected a non-empty"),
        (dump(make("rights/1", purposes=["a", 3])), "purposes item 1: expected a string"),
        (
            dump(make("rights/1", occurred_at="2026-11-26T10:15:00")),
            "occurred_at: date-time has no UTC offset",
        ),
        (dump(make("rights/1", occurred_at="soon")), "occurred_at: expected an RFC 3339 date-time"),
        (b"\xff{}", "event: not valid UTF-8 at byte 0"),
        (b'{"schema": NaN}', "event: not valid JSON: NaN and Infinity are not JSON numbers"),
        (b"{", "event: not valid JSON: input ends early"),
        (b"[1]", "event: expected an object, got an array"),
        (b" " * 70_000, "event: payload is 70000 bytes, over the 65536-byte (64 KiB) limit"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "event: JSON nested too deeply"),
    ],
)
def test_reason_wording(raw: bytes, expected: str) -> None:
    assert _reject(raw).reason.startswith(expected)


def test_unknown_field_names_are_clipped_and_made_printable() -> None:
    error = _reject(dump(make("navigation/1", **{"bad name\n" + "x" * 100: 1})))
    assert error.field == "bad?name?" + "x" * 23 + "…"
    assert error.reason == f"{error.field}: unknown field; contract v1 does not allow it, remove it"


def test_enum_values_in_reasons_are_clipped() -> None:
    error = _reject(dump(make("rights/1", right="z" * 5000)))
    assert len(error.reason) < 200
    assert "z" * 32 + "…" in error.reason


def test_size_is_checked_before_parsing_for_every_buffer_type() -> None:
    raw = b"[" * 65537
    for buffer in (raw, bytearray(raw), memoryview(raw)):
        error = _reject(buffer)
        assert "65537 bytes" in error.reason
        assert error.field is None


def test_memoryview_input_decodes() -> None:
    raw = dump(MINIMAL["rights/1"])
    assert validator.decode(memoryview(raw)) == validator.decode(raw)


@pytest.mark.parametrize("sample", VALID, ids=lambda s: s.name)
def test_encode_round_trips(sample: Sample) -> None:
    event = validator.decode(sample.raw)
    encoded = validator.encode(event)
    assert validator.decode(encoded) == event
    assert b"null" not in encoded  # None fields are omitted


def test_encode_keeps_the_offset() -> None:
    event = validator.decode(dump(make("rights/1", occurred_at="2026-11-26T10:15:00-05:30")))
    assert json.loads(validator.encode(event))["occurred_at"] == "2026-11-26T10:15:00-05:30"


def test_decode_obj_accepts_parsed_json_and_aware_datetimes() -> None:
    obj = make("geolocation/1")
    assert validator.decode_obj(obj) == validator.decode(dump(obj))
    aware = datetime(2026, 11, 26, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert validator.decode_obj(make("geolocation/1", occurred_at=aware)).occurred_at == aware


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lat": float("nan")}, "lat"),
        ({"lon": float("inf")}, "lon"),
        ({"accuracy_m": float("inf")}, "accuracy_m"),
        ({"occurred_at": datetime(2026, 11, 26, 10, 15)}, "occurred_at"),
        ({"lat": "48.8566"}, "lat"),
        ({"extra": 1}, "extra"),
    ],
)
def test_decode_obj_rejects_like_decode(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        validator.decode_obj(make("geolocation/1", **changes))
    assert info.value.field == field
    assert "48.8566" not in info.value.reason


def test_decode_obj_rejects_non_objects_and_deep_nesting() -> None:
    with pytest.raises(InvalidEvent, match="expected an object"):
        validator.decode_obj([1])
    deep: dict[str, object] = {"schema": "rights/1"}
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(InvalidEvent):
        validator.decode_obj(deep)


def test_invalid_event_is_a_pipeline_error_and_pickles() -> None:
    error = InvalidEvent("lat: expected a finite number between -90 and 90", "lat")
    assert isinstance(error, PipelineError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.reason, copy.field) == (error.reason, error.field)


def test_events_are_immutable() -> None:
    event = validator.decode(dump(MINIMAL["rights/1"]))
    with pytest.raises(AttributeError):
        event.user_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("occurred_at", "utc_year"),
    [
        ("0001-01-01T00:30:00+01:00", None),  # 0000-12-31T23:30Z: before year 1
        ("9999-12-31T23:30:00-01:00", None),  # 10000-01-01T00:30Z
        ("0001-01-01T00:30:00Z", 1),
        ("9999-12-31T23:30:00+01:00", 9999),
        ("0002-01-01T00:30:00+01:00", 1),  # the years between are always representable
        ("9998-12-31T23:30:00-01:00", 9999),
    ],
)
def test_an_instant_without_a_utc_equivalent_is_refused(
        occurred_at: str, utc_year: int | None) -> None:
    raw = dump(make("rights/1", occurred_at=occurred_at))
    if utc_year is None:
        assert _reject(raw).reason.startswith("occurred_at: outside the range a UTC date-time")
    else:
        assert validator.decode(raw).occurred_at.astimezone(UTC).year == utc_year
