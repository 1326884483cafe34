"""Hand-made scenarios for the oracle: build events, wrap them as produced messages, decide."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.policy import Policy, load_policy
from pipeline.simulator.model import CONSENT, GEOLOCATION, NAVIGATION
from pipeline.simulator.traffic import Message
from pipeline.simulator.truth import HasKey, Oracle, Rules, all_keys

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
POLICY = load_policy()
APP = {"name": "mm-mobile", "platform": "ios", "version": "5.12.0"}
_TOPICS = {
    "navigation/1": NAVIGATION,
    "geolocation/1": GEOLOCATION,
    "consent/1": CONSENT,
    "rights/1": CONSENT,
}
_counter = [0]


def s(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def _head(schema: str, user: str, at: datetime) -> dict[str, Any]:
    _counter[0] += 1
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"schema": schema, "event_id": f"e{_counter[0]}", "user_id": user, "occurred_at": stamp}


def nav(user: str, at: datetime, screen: str = "home", **extra: Any) -> dict[str, Any]:
    """A navigation/1 screen view."""
    return {**_head("navigation/1", user, at), "app": APP, "type": "screen_view", "screen": screen,
            **extra}  # fmt: skip


def geo(user: str, at: datetime, lat: float = 48.8566, lon: float = 2.3522) -> dict[str, Any]:
    """A geolocation/1 ping."""
    return {**_head("geolocation/1", user, at), "app": APP, "lat": lat, "lon": lon}


def consent(user: str, at: datetime, purposes: dict[str, bool], **extra: Any) -> dict[str, Any]:
    """A consent/1 answer (``extra``: tcf, gpc)."""
    return {**_head("consent/1", user, at), "purposes": purposes, "source": "banner", **extra}


def rights(
    user: str, at: datetime, right: str, purposes: list[str] | None = None
) -> dict[str, Any]:
    """A rights/1 request."""
    event = {**_head("rights/1", user, at), "right": right}
    if purposes is not None:
        event["purposes"] = purposes
    return event


def messages(*events: dict[str, Any]) -> list[Message]:
    """Events as produced messages, in the given (production) order."""
    out = []
    for event in events:
        at = datetime.fromisoformat(event["occurred_at"])
        raw = json.dumps(event).encode()
        out.append(
            Message(_TOPICS[event["schema"]], event["user_id"].encode(), raw,
                    int(at.timestamp() * 1000), 0)
        )  # fmt: skip
    return out


def malformed(topic: str, at: datetime, kind: str = "not_json") -> Message:
    """A deliberately invalid message on ``topic`` stamped ``at``."""
    return Message(topic, b"u-bad", b"{not json", int(at.timestamp() * 1000), 0, kind)


def oracle(
    *events: dict[str, Any] | Message,
    now: datetime = NOW,
    policy: Policy = POLICY,
    has_key: HasKey = all_keys,
) -> Oracle:
    """The oracle over ``events`` (dicts or ready-made messages) in production order."""
    msgs = [e if isinstance(e, Message) else messages(e)[0] for e in events]
    return Oracle(msgs, Rules(policy, now, has_key))


def decisions(*events: dict[str, Any] | Message, **kwargs: Any) -> list[dict[str, str]]:
    """Purpose -> outcome for each navigation/geolocation event, in order."""
    o = oracle(*events, **kwargs)
    return [o.outcomes(ev) for ev in o.valid if ev.stream != "consent"]
