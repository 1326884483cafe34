"""The published JSON Schemas: up to date, valid draft 2020-12, and in agreement with the decoder.

The JSON Schema side of the agreement check is independent of msgspec: bytes are parsed by
the standard library (strict UTF-8, no NaN/Infinity, no lone surrogates) and validated by
``jsonschema``. The 64 KiB payload limit is a transport rule stated in each schema's
``$comment`` (JSON Schema cannot express a byte size), so it is applied to both sides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemas_corpus import INVALID, MINIMAL, VALID, Sample, dump

import schemas
from schemas import contract, validator
from schemas.events import EVENT_TYPES
from schemas.exceptions import InvalidEvent

SCHEMA_DIR = Path(schemas.__file__).parent
VALIDATORS = [Draft202012Validator(contract.load(name)) for name in EVENT_TYPES]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def schema_accepts(raw: bytes) -> bool:
    """The JSON Schema verdict: strict JSON parse, then valid under one of the schemas."""
    if len(raw) > validator.MAX_EVENT_BYTES:
        return False
    try:
        instance = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        # Lone surrogates parse in Python but are not Unicode text: refuse them as well.
        json.dumps(instance, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return False
    return any(v.is_valid(instance) for v in VALIDATORS)


def decoder_accepts(raw: bytes) -> bool:
    try:
        validator.decode(raw)
    except InvalidEvent:
        return False
    return True


@pytest.mark.parametrize("name", list(contract.SCHEMAS))
def test_shipped_files_are_generated_from_the_structs(name: str) -> None:
    path = SCHEMA_DIR / contract.file_name(name)
    assert path.read_text(encoding="utf-8") == contract.render(name), (
        "regenerate with: python -m schemas.contract"
    )


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_files_are_valid_draft_2020_12_schemas(name: str) -> None:
    document = contract.load(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["properties"]["schema"] == {
        "const": name,
        "description": "Event type and contract version.",
    }
    assert document["additionalProperties"] is False


def test_schema_files_are_package_data() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(
        contract.file_name(name) for name in contract.SCHEMAS
    )


@pytest.mark.parametrize("sample", VALID + INVALID, ids=lambda s: s.name)
def test_json_schemas_and_decoder_agree_on_the_corpus(sample: Sample) -> None:
    expected = sample in VALID
    assert decoder_accepts(sample.raw) is expected
    assert schema_accepts(sample.raw) is expected


def test_each_event_type_is_accepted_by_its_own_schema_only() -> None:
    for name, event in MINIMAL.items():
        verdicts = {n: v.is_valid(event) for n, v in zip(EVENT_TYPES, VALIDATORS, strict=True)}
        assert verdicts == {n: n == name for n in EVENT_TYPES}


_DIGITS = st.sampled_from(
    ["00", "01", "09", "12", "13", "23", "24", "28", "29", "30", "31", "59", "60"]
)
_TIMESTAMPS = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}{}".format,
    st.sampled_from(["0000", "0001", "1900", "2000", "2023", "2024", "2026", "9999", "202"]),
    _DIGITS,
    _DIGITS,
    st.sampled_from(["T", "t", " ", "_", "  "]),
    _DIGITS,
    _DIGITS,
    _DIGITS,
    st.sampled_from(["", ".", ".5", ".123456", ".123456789", ",5"]),
    st.sampled_from(
        [
            "",
            "Z",
            "z",
            "+01:00",
            "-05:30",
            "+0100",
            "+01",
            "+24:00",
            "-23:59",
            "+12:60",
            " Z",
            "+01:00:00",
            "UTC",
        ]
    ),
    st.sampled_from(["", "", "", "\n", " "]),
)


@settings(max_examples=600, deadline=None, database=None, derandomize=True)
@given(_TIMESTAMPS)
def test_timestamp_pattern_matches_the_decoder(timestamp: str) -> None:
    raw = dump({**MINIMAL["rights/1"], "occurred_at": timestamp})
    assert schema_accepts(raw) == decoder_accepts(raw), timestamp


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([90, -90, 180, -180, 90.0000001, 0, -0.0, 1e7, 1e7 + 1]),
    st.text(max_size=3),
    st.text(min_size=60, max_size=140),
    st.sampled_from(["", "ios", "web", "action", "banner", "erasure", "2026-11-26T10:15:00Z"]),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.booleans(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_FIELDS = sorted(
    {f for cls in EVENT_TYPES.values() for f in cls.__struct_fields__} | {"schema", "extra"}
)


@settings(
    max_examples=800,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sampled_from(list(MINIMAL)),
    st.dictionaries(st.sampled_from(_FIELDS), _VALUES, min_size=1, max_size=3),
    st.lists(st.sampled_from(_FIELDS), max_size=2),
)
def test_mutated_events_get_the_same_verdict(
    base: str, changes: dict[str, Any], dropped: list[str]
) -> None:
    event = {**MINIMAL[base], **changes}
    for name in dropped:
        event.pop(name, None)
    raw = dump(event)
    assert schema_accepts(raw) == decoder_accepts(raw), event
