"""Building blocks of the adversarial input: labelled cases, a seeded event builder, and the
hostile values (see :mod:`tests.support.adversarial`)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Expect = Literal["valid", "invalid", "either"]
Event = dict[str, Any]
_DAY = timedelta(days=1)

SQL_SCREENS = (
    "'; DROP TABLE navigation_hourly; --",
    "home' OR '1'='1",
    "x\"); DELETE FROM agg_navigation_daily; --",
    "Robert'); DROP TABLE students;--",
    "1; ATTACH 'evil.duckdb' AS e; --",
    "contracts UNION SELECT * FROM sink_offsets",
)
UNICODE_SCREENS = ("écran-accueil-🏠", "مرحبا", "a\u200bb\u200dc", "nul\u0000byte", "e\u0301\u0301",
                   "\U0010ffff")
POLES = ((90.0, 0.0), (-90.0, 0.0), (0.0, 180.0), (0.0, -180.0), (90.0, 180.0),
         (-90.0, -180.0), (89.999999, 179.999999), (-89.999999, -179.999999))
BAD_TIMES = ("2026-11-26T10:15:00", "2026-02-30T00:00:00Z", "2026-11-26T24:00:00Z",
             "2026-11-26T23:59:60Z", "yesterday", "", "2026-11-26T10:15:00+25:00",
             "0000-01-01T00:00:00Z")
#: Valid RFC 3339 whose instant lies outside what a UTC datetime can hold.
UNREPRESENTABLE_TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")
EXTREME_TIMES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


@dataclass(frozen=True)
class Case:
    """One message to produce and what must become of it."""

    topic: str
    key: bytes
    value: bytes
    expect: Expect
    kind: str


def dumps(event: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


class Builder:
    """Builds events for the generator; one instance per run."""

    def __init__(self, rng: random.Random, now: datetime, users: list[str]) -> None:
        self.rng, self.now, self.users, self.seq = rng, now, users, 0
        self.sent: list[Case] = []

    def _head(self, schema: str, user: str | None = None, ago: float | None = None) -> Event:
        self.seq += 1
        when = self.now - timedelta(seconds=ago if ago is not None else self.rng.uniform(60, 3600))
        return {"schema": schema, "event_id": f"fz-{self.seq}", "user_id":
                user or self.rng.choice(self.users), "occurred_at": when.isoformat()}

    def navigation(self, **fields: Any) -> Event:
        app = {"name": "mm-app", "platform": self.rng.choice(("ios", "android", "web")),
               "version": "4.2"}
        return {**self._head("navigation/1"), "app": app, "type": "screen_view",
                "screen": self.rng.choice(("home", "contracts", "documents")), **fields}

    def geolocation(self, **fields: Any) -> Event:
        app = {"name": "mm-app", "platform": "android", "version": "4.2"}
        return {**self._head("geolocation/1"), "app": app, "lat": 48.85 + self.rng.random() / 10,
                "lon": 2.35 + self.rng.random() / 10, **fields}

    def consent(self, user: str | None = None, ago: float | None = None, **fields: Any) -> Event:
        purposes = {p: self.rng.random() < 0.7 for p in
                    ("audience_measurement", "geolocation", "advertising", "personalisation")}
        return {**self._head("consent/1", user, ago), "purposes": purposes,
                "source": "banner", **fields}


