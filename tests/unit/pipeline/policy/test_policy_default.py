"""The shipped policy loads and says what DESIGN.md section 5 and the seed say."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from pipeline.policy import (
    ALL_FIELDS,
    DESIGN_PURPOSES,
    IDENTIFIER_FIELDS,
    LEDGER,
    STREAM_FIELDS,
    Policy,
    load_policy,
)
from pipeline.settings import Settings

# DESIGN.md section 5: purpose -> (basis, consent required, retention days, streams)
DESIGN_TABLE = {
    "audience_measurement": ("consent", True, 395, {"navigation"}),
    "geolocation": ("explicit_consent", True, 395, {"geolocation"}),
    "personalisation": ("consent", True, 395, {"navigation"}),
    "advertising": ("consent", True, 395, {"navigation"}),
    "fraud_prevention": ("legitimate_interest", False, 183, {"navigation", "geolocation"}),
}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def test_default_policy_has_exactly_the_design_purposes(policy: Policy) -> None:
    assert set(policy.purposes) == set(DESIGN_PURPOSES) == set(DESIGN_TABLE)
    for name in DESIGN_PURPOSES:
        assert policy.is_known(name)
    assert not policy.is_known("newsletter")
    assert not policy.is_known(LEDGER)


@pytest.mark.parametrize("name", sorted(DESIGN_TABLE))
def test_default_purpose_matches_design_table(policy: Policy, name: str) -> None:
    basis, consent, retention, streams = DESIGN_TABLE[name]
    purpose = policy.purposes[name]
    assert purpose.name == name
    assert (purpose.basis, purpose.consent_required) == (basis, consent)
    assert purpose.retention_days == retention
    assert purpose.streams == frozenset(streams)
    assert purpose.epoch == "month"
    assert purpose.label  # the seed's wording


def test_default_global_settings(policy: Policy) -> None:
    assert policy.k_threshold == 5
    assert policy.geohash_precision == 5
    assert policy.anonymous_counting is False
    assert (policy.lateness_days, policy.future_minutes, policy.grace_seconds) == (7, 5, 30)
    assert policy.grace_max_events == 100_000
    assert policy.health_screen_name == "health"
    assert len(policy.health_patterns) >= 10
    assert policy.tcf_min_policy_version == 4


def test_only_advertising_is_denied_by_gpc_and_keeps_campaign(policy: Policy) -> None:
    assert {n for n, p in policy.purposes.items() if p.gpc_denies} == {"advertising"}
    keeping = {n for n, p in policy.purposes.items() if p.fields["campaign"] == "keep"}
    assert keeping == {"advertising"}


def test_only_legitimate_interest_purposes_are_objectable(policy: Policy) -> None:
    assert {n for n, p in policy.purposes.items() if p.objectable} == {"fraud_prevention"}


def test_default_field_treatments_follow_design(policy: Policy) -> None:
    fraud, geo = policy.purposes["fraud_prevention"], policy.purposes["geolocation"]
    assert fraud.treatment("device_id") == fraud.treatment("ip") == "encrypt"
    assert geo.fields["lat"] == geo.fields["lon"] == "coarsen"
    assert geo.fields["coords"] == "encrypt"
    for purpose in policy.purposes.values():
        assert purpose.fields["user_id"] == "pseudonymise"
        assert purpose.fields["occurred_at"] == "coarsen"
        assert purpose.fields["referrer"] == "drop"
        assert purpose.fields["accuracy_m"] == "drop"
        for name in IDENTIFIER_FIELDS:
            assert purpose.fields[name] != "keep"
        if purpose.name != "geolocation":
            assert purpose.fields["coords"] == "drop"


def test_every_purpose_names_every_field_in_the_shipped_file() -> None:
    text = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")
    doc = tomllib.loads(text)
    catalogue = set(STREAM_FIELDS["navigation"]) | set(STREAM_FIELDS["geolocation"])
    assert catalogue == set(ALL_FIELDS)
    for name, body in doc["purposes"].items():
        assert set(body["fields"]) == catalogue, name


def test_fields_mapping_is_complete_and_read_only(policy: Policy) -> None:
    purpose = policy.purposes["audience_measurement"]
    assert set(purpose.fields) == set(ALL_FIELDS)
    with pytest.raises(TypeError):
        purpose.fields["user_id"] = "keep"  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.purposes["x"] = purpose  # type: ignore[index]


def test_consent_ledger_outlives_every_purpose(policy: Policy) -> None:
    longest = max(p.retention_days for p in policy.purposes.values())
    assert policy.consent_ledger.retention_days >= longest
    assert policy.consent_ledger.epoch == "month"


def test_tcf_table_needs_all_of_its_tcf_purposes(policy: Policy) -> None:
    assert dict(policy.tcf_requirements) == {
        "audience_measurement": frozenset({1, 8, 9}),
        "personalisation": frozenset({1, 5, 6}),
        "advertising": frozenset({1, 2, 3, 4, 7}),
    }


def test_settings_policy_path_is_loaded(tmp_path: Path) -> None:
    text = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("k_threshold = 5", "k_threshold = 7"), encoding="utf-8")
    settings = Settings.from_env({"PRIVACY_PIPELINE_POLICY": str(path)})
    loaded = load_policy(settings.policy)
    assert loaded.k_threshold == 7
    assert loaded.source == str(path)
    assert load_policy(Settings.from_env({}).policy).k_threshold == 5


def test_key_specs_cover_every_purpose_and_the_ledger(policy: Policy) -> None:
    import keys

    specs = policy.key_specs()
    assert all(isinstance(s, keys.PurposeSpec) for s in specs)
    by_name = {s.name: s for s in specs}
    assert set(by_name) == set(DESIGN_PURPOSES) | {LEDGER}
    assert by_name["fraud_prevention"].retention_days == 183
    assert by_name["advertising"].epoch == "month"
    assert by_name[LEDGER].retention_days == policy.consent_ledger.retention_days
