"""Envelopes (``batch/1``): each event validated on its own, the envelope's shape as a whole.

The agreement check mirrors the event one: the decoder's verdict on every envelope and on every
event inside it equals the published JSON Schemas' verdict (bytes parsed by the standard
library, validated by ``jsonschema``). The byte limits and the key rule are transport rules
stated in the schema's ``$comment``, applied to both sides.
"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from schemas_corpus import INVALID, MINIMAL, PERSONAL, VALID, dump, make
from test_schemas_contract import schema_accepts

from schemas import contract, validator
from schemas.envelope import (
    ENVELOPE_SCHEMA,
    MAX_ENVELOPE_BYTES,
    MAX_ENVELOPE_EVENTS,
    WRAP_OVERHEAD,
    wrap,
)
from schemas.events import Navigation
from schemas.exceptions import InvalidEvent

KEY = b"C-000123"
ENVELOPE = Draft202012Validator(contract.load(ENVELOPE_SCHEMA))


def _nav(n: int = 0, **changes: object) -> bytes:
    return dump(make("navigation/1", event_id=f"ev-{n}", **changes))


def _reasons(raw: bytes, key: bytes | None = KEY) -> list[tuple[int | None, str | None]]:
    """(index, reason or None when valid) of every item of a message."""
    items = validator.decode_message(raw, key)
    return [
        (i.index, i.result.reason if isinstance(i.result, InvalidEvent) else None) for i in items
    ]


def test_a_single_event_is_one_item_without_index() -> None:
    raw = _nav()
    [item] = validator.decode_message(raw, b"someone-else")  # single events: key not checked
    assert item.index is None
    assert item.raw == raw
    assert isinstance(item.result, Navigation)


def test_each_event_of_an_envelope_is_decoded_on_its_own_with_its_own_bytes() -> None:
    events = [_nav(1), _nav(2, screen="home"), dump(MINIMAL["geolocation/1"])]
    items = validator.decode_message(wrap(events), KEY)
    assert [i.index for i in items] == [0, 1, 2]
    assert [i.raw for i in items] == events
    assert [i.result.schema for i in items if not isinstance(i.result, InvalidEvent)] == [
        "navigation/1",
        "navigation/1",
        "geolocation/1",
    ]


def test_an_invalid_event_is_rejected_alone() -> None:
    bad = dump(make("navigation/1", lat=1.0))
    reasons = _reasons(wrap([_nav(1), bad, b"17", _nav(2)]))
    assert reasons[0] == (0, None) and reasons[3] == (3, None)
    assert reasons[1] == (1, "lat: unknown field; contract v1 does not allow it, remove it")
    assert reasons[2] == (2, "event: expected an object, got an integer")


def test_an_event_of_another_user_is_rejected_alone_without_naming_anyone() -> None:
    other = _nav(2, user_id="C-999999")
    reasons = _reasons(wrap([_nav(1), other]))
    assert reasons[0] == (0, None)
    assert reasons[1][0] == 1
    reason = reasons[1][1]
    assert reason is not None and reason.startswith("user_id: not the message key")
    assert "C-999999" not in reason and "C-000123" not in reason


def test_a_nested_envelope_is_rejected_alone() -> None:
    reasons = _reasons(wrap([wrap([_nav(1)]), _nav(2)]))
    assert reasons == [
        (0, "schema: an envelope cannot hold an envelope; send its events"),
        (1, None),
    ]


def test_an_event_over_64_kib_inside_an_envelope_is_rejected_alone() -> None:
    huge = _nav(1, screen="x" * 70_000)
    reasons = _reasons(wrap([huge, _nav(2)]))
    assert reasons[0][1] is not None and "64 KiB" in reasons[0][1]
    assert reasons[1] == (1, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"schema":"batch/1","events":[]}', "events: expected a non-empty array"),
        (b'{"schema":"batch/1"}', "events: missing required field"),
        (b'{"schema":"batch/1","events":{}}', "events: expected an array, got an object"),
        (b'{"schema":"batch/1","events":[1],"user":"x"}', "user: unknown field"),
        (b'{"schema":"batch/1","events":[1]', "event: not valid JSON"),
        (wrap([b"1"] * (MAX_ENVELOPE_EVENTS + 1)), "events: expected an array of at most 500"),
    ],
)
def test_a_malformed_envelope_is_one_rejection_of_the_whole_message(
    raw: bytes, reason: str
) -> None:
    [item] = validator.decode_message(raw, KEY)
    assert item.index is None and item.raw == raw
    assert isinstance(item.result, InvalidEvent)
    assert item.result.reason.startswith(reason), item.result.reason


def test_an_envelope_needs_a_key() -> None:
    [(index, reason)] = _reasons(wrap([_nav()]), None)
    assert index is None and reason is not None and reason.startswith("envelope: the message has")


def test_size_limits_event_64_kib_envelope_1_mib() -> None:
    event = _nav(1, referrer="r" * 2000)
    fits = (MAX_ENVELOPE_BYTES - WRAP_OVERHEAD) // (len(event) + 1)
    big = wrap([event] * fits)
    assert validator.MAX_EVENT_BYTES < len(big) <= MAX_ENVELOPE_BYTES
    assert all(reason is None for _, reason in _reasons(big))
    over = wrap([event] * (fits + 1))
    assert len(over) > MAX_ENVELOPE_BYTES
    [(index, reason)] = _reasons(over)
    assert index is None and reason is not None and "1 MiB" in reason
    single = _nav(1, screen="s" * 400, referrer="r" * 2000) + b" " * 70_000
    [(index, reason)] = _reasons(single)
    assert reason is not None and "64 KiB" in reason


def test_reasons_never_echo_personal_values() -> None:
    raws = [s.raw for s in INVALID if len(s.raw) <= validator.MAX_EVENT_BYTES]
    for _, reason in _reasons(wrap(raws)):
        assert reason is not None
        assert not [value for value in PERSONAL if value in reason]


def _schema_verdicts(raw: bytes, key: bytes) -> list[bool] | None:
    """The JSON Schema side: None when the envelope is rejected, else each event's verdict."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        return None
    if not _is_json(raw):
        return None
    envelope = json.loads(raw)
    if not ENVELOPE.is_valid(envelope):
        return None
    verdicts = []
    for event in envelope["events"]:
        one = json.dumps(event).encode("utf-8")  # escapes: a lone surrogate stays visible
        ok = schema_accepts(one) and event.get("user_id") == key.decode()
        verdicts.append(ok)
    return verdicts


def _decoder_verdicts(raw: bytes, key: bytes) -> list[bool] | None:
    items = validator.decode_message(raw, key)
    if items[0].index is None:
        return None
    return [not isinstance(i.result, InvalidEvent) for i in items]


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _is_json(raw: bytes) -> bool:
    """Strict JSON text (an item that is not would make the whole envelope malformed)."""
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        # A lone surrogate is not Unicode text: the whole message is malformed.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return False
    return True


_SAMPLES = [s.raw for s in VALID + INVALID if len(s.raw) <= validator.MAX_EVENT_BYTES]
_ENVELOPES = {
    "corpus": wrap([s for s in _SAMPLES if _is_json(s)][:MAX_ENVELOPE_EVENTS]),
    "one": wrap([_nav()]),
    "other-user": wrap([_nav(), _nav(1, user_id="C-1")]),
    "empty": wrap([]),
    "unknown-field": b'{"schema":"batch/1","events":[{}],"x":1}',
    "not-array": b'{"schema":"batch/1","events":"x"}',
    "too-many": wrap([_nav()] * (MAX_ENVELOPE_EVENTS + 1)),
    "nested": wrap([wrap([_nav()])]),
    "lone-surrogate": wrap([_nav(), b'{"schema": "navigation/1", "event_id": "\\ud800"}']),
}


@pytest.mark.parametrize("name", list(_ENVELOPES))
def test_json_schemas_and_decoder_agree_on_envelopes(name: str) -> None:
    raw = _ENVELOPES[name]
    assert _decoder_verdicts(raw, KEY) == _schema_verdicts(raw, KEY)


def test_the_corpus_envelope_keeps_the_corpus_verdicts() -> None:
    verdicts = _decoder_verdicts(_ENVELOPES["corpus"], KEY)
    assert verdicts is not None and True in verdicts and False in verdicts
