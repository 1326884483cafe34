"""The oracle's analyst tables (DESIGN.md section 8) on hand-made scenarios."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pygeohash
from simkit import POLICY, T0, consent, geo, malformed, nav, oracle, rights, s

from pipeline.simulator.model import CONSENT, GEOLOCATION, NAVIGATION
from pipeline.simulator.traffic import Message

AUDIENCE = {"audience_measurement": True}


def _tables(*events: dict[str, Any] | Message, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = oracle(*events, **kwargs).summary()["tables"]
    return tables


def test_navigation_counts_kept_views_and_distinct_visitors_per_hour_and_day() -> None:
    tables = _tables(
        consent("u1", s(0), AUDIENCE),
        consent("u2", s(0), AUDIENCE),
        nav("u1", s(10), "contracts"),
        nav("u1", s(20), "contracts"),
        nav("u2", s(30), "contracts"),
        nav("u3", s(40), "contracts"),  # no consent: not counted
        nav("u1", s(3600), "contracts"),  # next hour
    )
    hourly = tables["navigation_hourly"]
    assert hourly == [
        {"hour": "2026-04-01T08:00:00Z", "app": "mm-mobile", "platform": "ios",
         "screen": "contracts", "views": 3, "visitors": 2, "anonymous_views": 0},
        {"hour": "2026-04-01T09:00:00Z", "app": "mm-mobile", "platform": "ios",
         "screen": "contracts", "views": 1, "visitors": 1, "anonymous_views": 0},
    ]  # fmt: skip
    [daily] = tables["navigation_daily"]
    assert (daily["day"], daily["views"], daily["visitors"]) == ("2026-04-01", 4, 2)


def test_k_threshold_is_not_applied_in_the_truth() -> None:
    tables = _tables(consent("u1", s(0), AUDIENCE), nav("u1", s(1), "help"))
    assert tables["navigation_hourly"][0]["visitors"] == 1 < POLICY.k_threshold


def test_screens_lose_query_strings_and_health_screens_are_generalised() -> None:
    o = oracle(
        consent("u1", s(0), AUDIENCE),
        nav("u1", s(1), "contract-detail?id=CT12345678"),
        nav("u1", s(2), "health-care-quote"),
        nav("u1", s(3), "reimbursement-detail?claim=R123456789"),
    )
    summary = o.summary()
    screens = [r["screen"] for r in summary["tables"]["navigation_hourly"]]
    assert screens == ["contract-detail", "health"]
    text = json.dumps(summary)
    assert "CT12345678" not in text and "R123456789" not in text and "u1" not in text


def test_hours_and_days_are_utc_whatever_the_offset() -> None:
    local = nav("u1", s(0))
    local["occurred_at"] = "2026-04-02T01:30:00.000+02:00"  # 2026-04-01T23:30Z
    tables = _tables(consent("u1", s(-3600 * 9), AUDIENCE), local)
    assert tables["navigation_hourly"][0]["hour"] == "2026-04-01T23:00:00Z"
    assert tables["navigation_daily"][0]["day"] == "2026-04-01"


def test_anonymous_counting_counts_non_consented_views_only() -> None:
    exempt = dataclasses.replace(POLICY, anonymous_counting=True)
    tables = _tables(
        consent("u1", s(0), AUDIENCE),
        nav("u1", s(1)),
        nav("u2", s(2)),
        nav("u3", s(3)),
        policy=exempt,
    )
    [row] = tables["navigation_hourly"]
    assert (row["views"], row["visitors"], row["anonymous_views"]) == (1, 1, 2)
    default = _tables(nav("u2", s(2)))
    assert default["navigation_hourly"] == []


def test_geolocation_cells_at_policy_precision() -> None:
    tables = _tables(
        consent("u1", s(0), {"geolocation": True}),
        consent("u2", s(0), {"geolocation": True}),
        geo("u1", s(5), 48.8566, 2.3522),
        geo("u1", s(6), 48.8567, 2.3523),
        geo("u2", s(7), 48.8566, 2.3522),
        geo("u3", s(8), 48.8566, 2.3522),  # no consent
    )
    cell = pygeohash.encode(48.8566, 2.3522, POLICY.geohash_precision)
    assert len(cell) == POLICY.geohash_precision
    assert tables["geolocation_hourly"] == [
        {"hour": "2026-04-01T08:00:00Z", "cell": cell, "users": 2, "events": 3}
    ]


def test_campaigns_count_advertising_consented_views_with_a_campaign() -> None:
    tables = _tables(
        consent("u1", s(0), {"advertising": True}),
        consent("u2", s(0), {"audience_measurement": True}),
        nav("u1", s(1), campaign="optique-printemps"),
        nav("u1", s(2)),  # no campaign
        nav("u2", s(3), campaign="optique-printemps"),  # no advertising consent
    )
    assert tables["campaign_daily"] == [
        {"day": "2026-04-01", "app": "mm-mobile", "campaign": "optique-printemps",
         "views": 1, "visitors": 1}
    ]  # fmt: skip


def test_consent_daily_counts_distinct_users_per_transition() -> None:
    tables = _tables(
        consent("u1", s(0), {"advertising": True}),
        consent("u1", s(10), {"advertising": False}),
        consent("u1", s(20), {"advertising": True}),  # granted again: same user, counted once
        consent("u1", s(30), {"advertising": True}),  # no change: no transition
        consent("u2", s(0), {"advertising": False}),
        consent("u2", s(5), {"advertising": False}),  # still denied: no transition
        consent("u3", s(86400), {"advertising": False}),
    )
    assert tables["consent_daily"] == [
        {"day": "2026-04-01", "purpose": "advertising", "granted": 1, "denied": 1, "withdrawn": 1},
        {"day": "2026-04-02", "purpose": "advertising", "granted": 0, "denied": 1, "withdrawn": 0},
    ]


def test_processing_daily_counts_every_decision_and_invalid_inputs() -> None:
    tables = _tables(
        consent("u1", s(0), {"advertising": True}),
        nav("u1", s(1)),
        geo("u1", s(2)),
        malformed(NAVIGATION, T0 - timedelta(days=1)),
        malformed(GEOLOCATION, T0),
        malformed(CONSENT, T0),
        rights("u1", s(3), "access"),
    )
    rows = {(r["day"], r["stream"], r["purpose"], r["outcome"]): r["events"]
            for r in tables["processing_daily"]}  # fmt: skip
    assert rows == {
        ("2026-04-01", "navigation", "advertising", "kept"): 1,
        ("2026-04-01", "navigation", "audience_measurement", "dropped_no_consent"): 1,
        ("2026-04-01", "navigation", "personalisation", "dropped_no_consent"): 1,
        ("2026-04-01", "navigation", "fraud_prevention", "kept"): 1,
        ("2026-04-01", "geolocation", "geolocation", "dropped_no_consent"): 1,
        ("2026-04-01", "geolocation", "fraud_prevention", "kept"): 1,
        # Invalid input has no trustworthy occurred_at: the processing day (NOW) counts.
        ("2026-04-02", "navigation", "all", "invalid"): 1,
        ("2026-04-02", "geolocation", "all", "invalid"): 1,
        ("2026-04-02", "consent", "all", "invalid"): 1,
    }


def test_counts_of_what_was_sent() -> None:
    summary = oracle(
        consent("u1", s(0), {}),
        rights("u1", s(1), "erasure"),
        nav("u1", s(-5)),
        malformed(NAVIGATION, T0, "oversize"),
    ).summary()
    assert summary["sent"] == {NAVIGATION: 2, CONSENT: 2}
    assert summary["by_schema"] == {"consent/1": 1, "navigation/1": 1, "rights/1": 1}
    assert summary["rights"] == {"erasure": 1}
    assert summary["malformed"] == {NAVIGATION: 1}
    assert summary["malformed_kinds"] == {"oversize": 1}
    assert summary["active_users"] == 2
