"""TC strings in the engine: read whole or not at all, refusals counted by reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.unit.processors.conftest import APP, at

NAV = "app.navigation.v1"
GEO = "app.geolocation.v1"
CON = "privacy.consent.v1"
VECTORS = {
    v["name"]: v["string"]
    for v in json.loads(
        (Path(__file__).parents[2] / "vectors" / "tcf" / "tcf_vectors.json").read_text("utf-8")
    )["vectors"]
}


def geo(event_id: str, user: str, minutes: float) -> dict[str, Any]:
    return {
        "schema": "geolocation/1",
        "event_id": event_id,
        "user_id": user,
        "occurred_at": at(minutes),
        "app": APP,
        "lat": 48.85661,
        "lon": 2.35222,
    }


def test_truncated_string_is_ignored_counted_and_explicit_purposes_still_apply(
    harness, nav, consent
):
    core = VECTORS["all_purposes_bitfield"].split(".")[0]
    c = harness.produce(
        CON, consent("c1", "u1", -20, personalisation=True, _extra={"tcf": core[:-9]})
    )
    e = harness.produce(NAV, nav("e1", "u1", -10))
    harness.run(c, e)
    assert harness.outcomes("c1") == {
        "personalisation": "applied",
        "tcf": "ignored_invalid_tcf_truncated",
    }
    assert harness.engine.counts[("consent", "tcf", "ignored_invalid_tcf_truncated")] == 1
    outcomes = harness.outcomes("e1")
    assert outcomes["personalisation"] == "kept"
    assert outcomes["audience_measurement"] == "dropped_no_consent"  # never a partial read


def test_the_whole_string_grants(harness, nav, consent):
    c = harness.produce(
        CON, consent("c1", "u1", -20, _extra={"tcf": VECTORS["all_purposes_bitfield"]})
    )
    e = harness.produce(NAV, nav("e1", "u1", -10))
    harness.run(c, e)
    assert "tcf" not in harness.outcomes("c1")
    assert harness.outcomes("e1")["audience_measurement"] == "kept"


def test_special_feature_1_opted_out_withdraws_geolocation(harness, consent):
    granted = harness.produce(CON, consent("c1", "u1", -30, geolocation=True))
    before = harness.produce(GEO, geo("g1", "u1", -25))
    tcf = {"tcf": VECTORS["special_feature_1_opted_out"]}
    refused = harness.produce(CON, consent("c2", "u1", -20, _extra=tcf))
    after = harness.produce(GEO, geo("g2", "u1", -10))
    harness.run(granted, before, refused, after)
    assert harness.outcomes("g1")["geolocation"] == "kept"
    assert harness.outcomes("c2")["geolocation"] == "applied"
    assert harness.outcomes("g2")["geolocation"] == "dropped_withdrawn"


def test_explicit_geolocation_grant_beside_a_string_wins(harness, consent):
    tcf = {"tcf": VECTORS["special_feature_1_opted_out"]}
    c = harness.produce(CON, consent("c1", "u1", -20, geolocation=True, _extra=tcf))
    g = harness.produce(GEO, geo("g1", "u1", -10))
    harness.run(c, g)
    assert harness.outcomes("g1")["geolocation"] == "kept"
