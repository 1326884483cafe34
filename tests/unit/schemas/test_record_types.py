"""The typed records: table values written by earlier versions still decode to the same bytes;
each record kind keeps its documented keys; ``Outcome`` names every outcome the engine emits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

from schemas.events import Right
from schemas.records import (
    AuditIndex,
    DeadLetter,
    Decision,
    Erasure,
    Held,
    HeldIndex,
    Outcome,
    Sanitized,
    encode,
)

ROOT = Path(__file__).resolve().parents[3]

# Bytes the previous version's Structs (processors.held/store/audit) wrote to the changelogs.
OLD_VALUES: list[tuple[type[Any], bytes, Any]] = [
    (Held, b'["app.navigation.v1",3,41,"eyJ4IjoxfQ==",1764158400.5,2]',
     Held("app.navigation.v1", 3, 41, b'{"x":1}', 1764158400.5, 2)),
    (Held, b'["app.geolocation.v1",0,7,"YWI=",12.0,0]',
     Held("app.geolocation.v1", 0, 7, b"ab", 12.0)),
    (HeldIndex,
     b'{"first":4,"next":6,"size":120,"partition":3,"head":1764158400.25,'
     b'"last":{"app.navigation.v1:3":41},"home":3,"last_index":{"app.navigation.v1:3":2}}',
     HeldIndex(4, 6, 120, 3, 1764158400.25, {"app.navigation.v1:3": 41}, 3,
               {"app.navigation.v1:3": 2})),
    (Erasure, b'{"ts":1764158400.0,"partition":2,"targets":{"app.navigation.v1":17},"home":5}',
     Erasure(1764158400.0, 2, {"app.navigation.v1": 17}, 5)),
    (Erasure, b'{"ts":1764158400.0,"partition":0,"targets":{},"home":1}',
     Erasure(1764158400.0, home=1)),
    (AuditIndex, b'{"first":2,"next":9,"omitted":1}', AuditIndex(2, 9, 1)),
]

# Written before fields were added (envelope index, subject partition): defaults fill them.
OLDER_VALUES: list[tuple[type[Any], bytes, Any]] = [
    (Held, b'["app.navigation.v1",3,41,"eyJ4IjoxfQ==",1764158400.5]',
     Held("app.navigation.v1", 3, 41, b'{"x":1}', 1764158400.5, 0)),
    (HeldIndex, b'{"first":0,"next":1,"size":5,"partition":2,"head":1.0}',
     HeldIndex(0, 1, 5, 2, 1.0)),
    (Erasure, b'{"ts":1.0}', Erasure(1.0)),
]


@pytest.mark.parametrize(("kind", "raw", "expected"), OLD_VALUES)
def test_table_values_of_the_previous_version_decode_and_encode_to_the_same_bytes(
    kind: type[Any], raw: bytes, expected: Any
) -> None:
    decoded = msgspec.json.decode(raw, type=kind)
    assert decoded == expected
    assert encode(decoded) == raw


@pytest.mark.parametrize(("kind", "raw", "expected"), OLDER_VALUES)
def test_table_values_written_before_later_fields_still_decode(
    kind: type[Any], raw: bytes, expected: Any
) -> None:
    assert msgspec.json.decode(raw, type=kind) == expected


def test_each_decision_kind_writes_its_documented_keys_in_order() -> None:
    event = Decision.event(None, "navigation", "2026-11-26", {"advertising": "dropped_late"})
    consent = Decision.consent("r1", "advertising", "2026-11-26", "granted", "S1", False)
    invalid = Decision.invalid("app.navigation.v1:3:12#1", "navigation", "2026-11-26", "bad")
    assert encode(event) == (b'{"kind":"event","stream":"navigation","day":"2026-11-26",'
                             b'"outcomes":{"advertising":"dropped_late"}}')
    assert encode(consent) == (b'{"kind":"consent","event_id":"r1","purpose":"advertising",'
                               b'"day":"2026-11-26","transition":"granted","subject":"S1",'
                               b'"verified":false}')
    assert encode(invalid) == (b'{"kind":"invalid","source":"app.navigation.v1:3:12#1",'
                               b'"stream":"navigation","day":"2026-11-26","reason":"bad"}')


def test_a_sanitized_record_writes_every_field_and_pseudo_only_when_set() -> None:
    record = Sanitized("e", "advertising", "navigation", "2026-11-26T10:00:00Z", "2026-11",
                       None, False, "mm", "ios", "home", "screen_view", None, None)
    plain = msgspec.json.decode(encode(record))
    assert list(plain) == ["event_id", "purpose", "stream", "hour", "epoch", "pseudonym",
                           "anonymous", "app", "platform", "screen", "type", "campaign",
                           "cell", "enc"]
    record.pseudo = {"ip": "p"}
    assert list(msgspec.json.decode(encode(record)))[-1] == "pseudo"


def test_a_dead_letter_keeps_its_keys() -> None:
    letter = DeadLetter("app.navigation.v1", 1, 2, "not JSON", None, "2026-11-26T10:00:00+00:00",
                        3, False, None)
    assert list(msgspec.json.decode(encode(letter))) == [
        "topic", "partition", "offset", "reason", "field", "at", "original_bytes",
        "original_truncated", "original"]


def test_outcome_names_every_tcf_refusal_and_every_right() -> None:
    outcomes = set(get_args(Outcome))
    source = (ROOT / "pipeline/policy/tcstring.py").read_text("utf-8")
    source += (ROOT / "pipeline/policy/tcf.py").read_text("utf-8")
    reasons = set(re.findall(r'_refuse\("([a-z_]+)"', source))
    reasons |= set(re.findall(r'reason="([a-z_]+)"', source)) | {"invalid"}  # the default
    assert reasons and {f"ignored_invalid_tcf_{r}" for r in reasons} <= outcomes
    assert {f"rights_{r}" for r in get_args(Right)} <= outcomes


def test_outcome_names_every_outcome_string_the_engine_writes() -> None:
    outcomes = set(get_args(Outcome))
    sources = [p.read_text("utf-8") for p in (ROOT / "processors").rglob("*.py")]
    written = {w for s in sources for w in re.findall(r'"((?:kept|dropped|ignored)_?[a-z_]*)"', s)}
    written -= {"ignored_invalid_tcf_"}  # the prefix of an f-string, checked above
    assert written and written <= outcomes
