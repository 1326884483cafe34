"""The adversarial generator's labels agree with the published contract, checked independently.

The oracle here is not the pipeline's validator (msgspec): it is ``jsonschema`` over the JSON
Schema files shipped in ``schemas/``, plus the rules a schema cannot state (UTF-8, strict JSON
without NaN, 64 KiB, schema on its own topic).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pipeline.topics import CONSENT, GEOLOCATION, NAVIGATION
from tests.support.adversarial import generate
from tests.support.fuzzbase import Case

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
_TOPIC = {"navigation/1": NAVIGATION, "geolocation/1": GEOLOCATION, "consent/1": CONSENT,
          "rights/1": CONSENT}


def _validators() -> dict[str, Draft202012Validator]:
    out = {}
    for schema in _TOPIC:
        name = schema.replace("/", "-") + ".schema.json"
        out[schema] = Draft202012Validator(
            json.loads(resources.files("schemas").joinpath(name).read_text()))
    return out


VALIDATORS = _validators()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def contract_valid(case: Case) -> bool:
    """Whether the contract accepts ``case`` on its topic."""
    if len(case.value) > 65536:
        return False
    try:
        event = json.loads(case.value.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    if not isinstance(event, dict) or event.get("schema") not in VALIDATORS:
        return False
    schema = event["schema"]
    return _TOPIC[schema] == case.topic and VALIDATORS[schema].is_valid(event)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return generate(6000, seed=11, now=NOW)


def test_every_label_matches_the_json_schemas(cases: list[Case]) -> None:
    wrong = [(c.kind, c.expect, c.value[:120]) for c in cases
             if (c.expect != "invalid") != contract_valid(c)]
    assert wrong == []


def test_the_mix_covers_every_kind_asked_for(cases: list[Case]) -> None:
    kinds = Counter(c.kind for c in cases)
    for kind in ("wrong_type", "huge_string", "deep_nesting", "invalid_utf8", "resent_event_id",
                 "time_bounds", "sql_screen", "poles_antimeridian", "oversize_burst",
                 "huge_payload", "unrepresentable_time", "not_json", "missing_field"):
        assert kinds[kind] > 0, kind
    share = sum(c.expect == "invalid" for c in cases) / len(cases)
    assert 0.3 < share < 0.6


def test_generation_is_deterministic_and_resends_earlier_bytes(cases: list[Case]) -> None:
    assert generate(6000, seed=11, now=NOW) == cases
    assert generate(6000, seed=12, now=NOW) != cases
    earlier = {c.value for c in cases if c.kind != "resent_event_id"}
    assert all(c.value in earlier for c in cases if c.kind == "resent_event_id")


def test_huge_payloads_are_far_over_the_limit_but_fit_in_a_kafka_message(
    cases: list[Case],
) -> None:
    huge = [len(c.value) for c in cases if c.kind == "huge_payload"]
    assert huge and all(65536 * 10 < n < 1_000_000 for n in huge)
    burst = [c for c in cases if c.kind == "oversize_burst"]
    assert len(burst) == 30 and len({c.key for c in burst}) == 1
