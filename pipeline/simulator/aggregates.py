"""The analyst tables of DESIGN.md section 8 as the oracle expects them, before the k-threshold.

Rows are plain dicts with ISO strings for ``hour`` (``2026-04-01T08:00:00Z``) and ``day``
(``2026-04-01``), sorted by their key columns, so two truths compare with ``==``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pygeohash

from pipeline.policy import Policy
from pipeline.simulator.clock import iso_day, iso_hour
from pipeline.simulator.ledger import Transition

#: Outcomes of users without consent: counted anonymously in the CNIL-exempt mode.
NOT_CONSENTED = frozenset({"dropped_no_consent", "dropped_withdrawn"})


@dataclass
class _Counts:
    events: int = 0
    users: set[str] = field(default_factory=set)
    anonymous: int = 0


@dataclass
class Tables:
    """Accumulates decided events and consent transitions into the section 8 tables."""

    policy: Policy
    nav_hourly: dict[tuple[str, ...], _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    nav_daily: dict[tuple[str, ...], _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    geo: dict[tuple[str, ...], _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    campaigns: dict[tuple[str, ...], _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    processing: dict[tuple[str, ...], int] = field(default_factory=lambda: defaultdict(int))
    ledger: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    def _navigation(self, event: Mapping[str, Any], at: datetime, outcome: str) -> None:
        app = event["app"]
        screen = self.policy.health_screen(event["screen"])
        anonymous = self.policy.anonymous_counting and outcome in NOT_CONSENTED
        if outcome != "kept" and not anonymous:
            return
        for table, when in ((self.nav_hourly, iso_hour(at)), (self.nav_daily, iso_day(at))):
            row = table[(when, app["name"], app["platform"], screen)]
            if anonymous:
                row.anonymous += 1
            else:
                row.events += 1
                row.users.add(event["user_id"])

    def add_event(
        self, stream: str, event: Mapping[str, Any], at: datetime, outcomes: Mapping[str, str]
    ) -> None:
        """Count one decided navigation/geolocation event (``outcomes``: purpose -> outcome)."""
        day = iso_day(at)
        for purpose, outcome in outcomes.items():
            self.processing[(day, stream, purpose, outcome)] += 1
        user = event["user_id"]
        if "audience_measurement" in outcomes:
            self._navigation(event, at, outcomes["audience_measurement"])
        if outcomes.get("geolocation") == "kept":
            cell = pygeohash.encode(event["lat"], event["lon"], self.policy.geohash_precision)
            row = self.geo[(iso_hour(at), cell)]
            row.events += 1
            row.users.add(user)
        if outcomes.get("advertising") == "kept" and event.get("campaign") is not None:
            row = self.campaigns[(day, event["app"]["name"], event["campaign"])]
            row.events += 1
            row.users.add(user)

    def add_invalid(self, stream: str, day: str) -> None:
        """Count one invalid input message of ``stream`` on ``day``."""
        self.processing[(day, stream, "all", "invalid")] += 1

    def add_transition(self, t: Transition) -> None:
        """Count one consent-ledger transition (distinct users per day, purpose, kind)."""
        self.ledger[(iso_day(t.at), t.purpose, t.kind)].add(t.user)

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every table as sorted rows."""
        return {
            "navigation_hourly": _nav(self.nav_hourly, "hour"),
            "navigation_daily": _nav(self.nav_daily, "day"),
            "geolocation_hourly": [
                {"hour": h, "cell": c, "users": len(r.users), "events": r.events}
                for (h, c), r in sorted(self.geo.items())
            ],
            "campaign_daily": [
                {"day": d, "app": a, "campaign": c, "views": r.events, "visitors": len(r.users)}
                for (d, a, c), r in sorted(self.campaigns.items())
            ],
            "consent_daily": self._consent_rows(),
            "processing_daily": [
                {"day": d, "stream": s, "purpose": p, "outcome": o, "events": n}
                for (d, s, p, o), n in sorted(self.processing.items())
            ],
        }

    def _consent_rows(self) -> list[dict[str, Any]]:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for (day, purpose, kind), users in sorted(self.ledger.items()):
            row = rows.setdefault(
                (day, purpose),
                {"day": day, "purpose": purpose, "granted": 0, "denied": 0, "withdrawn": 0},
            )
            row[kind] = len(users)
        return [rows[k] for k in sorted(rows)]


def _nav(table: Mapping[tuple[str, ...], _Counts], when: str) -> list[dict[str, Any]]:
    return [
        {
            when: w,
            "app": a,
            "platform": p,
            "screen": s,
            "views": r.events,
            "visitors": len(r.users),
            "anonymous_views": r.anonymous,
        }
        for (w, a, p, s), r in sorted(table.items())
    ]
