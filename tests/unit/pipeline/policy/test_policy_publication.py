"""The [publication] section and the required per-purpose register tables."""

from __future__ import annotations

from typing import Any

import pytest
from policy_docs import default_doc, problems

from pipeline.policy import load_policy, policy_from_document
from pipeline.policy.fields import DESIGN_PURPOSES


def test_default_policy_is_all_threshold_and_has_a_register_for_every_purpose() -> None:
    policy = load_policy()
    assert all(policy.publication.mode(t) == "threshold" for t in
               ("navigation_hourly", "navigation_daily", "geolocation_hourly", "campaign_daily"))
    for name in DESIGN_PURPOSES:
        entry = policy.purposes[name].register
        assert entry.recipients and entry.transfers_outside_eu and entry.automated_decisions


@pytest.mark.parametrize("key", ["recipients", "transfers_outside_eu", "automated_decisions"])
def test_a_purpose_missing_a_register_field_is_refused(key: str) -> None:
    doc = default_doc()
    del doc["purposes"]["advertising"]["register"][key]
    assert problems(doc) == (f"purposes.advertising.register.{key}: missing",)


def test_a_purpose_without_register_table_is_refused() -> None:
    doc = default_doc()
    del doc["purposes"]["geolocation"]["register"]
    assert problems(doc) == ("purposes.geolocation.register: missing",)


def test_empty_recipients_are_refused() -> None:
    doc = default_doc()
    doc["purposes"]["geolocation"]["register"]["recipients"] = []
    assert problems(doc) == ("purposes.geolocation.register.recipients: must list at least "
                              "one entry",)


def _dp(doc: dict[str, Any], **table: Any) -> dict[str, Any]:
    doc["publication"]["budgets"] = {"navigation": {"epsilon": 1.0, "delta": 1e-7}}
    doc["publication"]["tables"]["navigation_hourly"] = {
        "mode": "dp", "budget": "navigation", "share": 0.5, "max_views_per_day": 10,
        "max_cells_per_day": 4, **table}
    return doc


def test_a_dp_table_is_built_with_its_share_of_the_budget() -> None:
    policy = policy_from_document(_dp(default_doc()))
    table = policy.publication.dp["navigation_hourly"]
    assert policy.publication.mode("navigation_hourly") == "dp"
    assert policy.publication.mode("navigation_daily") == "threshold"
    assert (table.epsilon, table.delta, table.max_cells_per_day) == (0.5, 5e-8, 4)


def test_dp_mistakes_are_all_named() -> None:
    doc = _dp(default_doc(), budget="nav", share=0.7)
    del doc["publication"]["tables"]["navigation_hourly"]["max_views_per_day"]
    doc["publication"]["tables"]["consent_daily"] = {"mode": "dp"}
    found = set(problems(doc))
    assert found == {
        "publication.tables.navigation_hourly.max_views_per_day: missing; dp mode needs it",
        "publication.tables.navigation_hourly.budget: no [publication.budgets.nav] declares it",
        "publication.tables.consent_daily.mode: dp mode needs per-user rows; this table has none",
    }


def test_shares_over_one_are_refused() -> None:
    doc = _dp(default_doc())
    doc["publication"]["tables"]["navigation_daily"] = {
        "mode": "dp", "budget": "navigation", "share": 0.6, "max_views_per_day": 10,
        "max_cells_per_day": 4}
    assert problems(doc) == (
        "publication.budgets.navigation: shares of its tables add up to 1.1 > 1",)


def test_a_large_delta_is_refused() -> None:
    doc = _dp(default_doc())
    doc["publication"]["budgets"]["navigation"]["delta"] = 0.01
    (problem,) = problems(doc)
    assert problem.startswith("publication.budgets.navigation.delta:")
