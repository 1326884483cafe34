"""Unlinkable outputs: no identifying value joins two purposes' records, no raw event id leaves.

Engine outputs under the real keyring (HMAC pseudonyms and ids, AES-GCM tokens): every field
of a sanitized record that is not a coarse dimension shared on purpose (hour, app, screen,
cell...) must take values that never appear on another purpose's topic, and no output topic
(sanitized, decisions, dead letters) may carry a raw event id, user id, device id or ip.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import keys
from pipeline.policy import LEDGER
from processors.refs import decision_ref, event_ref
from tests.unit.processors.conftest import APP, NOW, Harness, at, build_harness
from tests.unit.processors.linkage import PURPOSES, identifiers

NAV, GEO, CON = "app.navigation.v1", "app.geolocation.v1", "privacy.consent.v1"
@pytest.fixture
def real(ring: keys.Keyring, policy: Any) -> Harness:
    """The engine harness with the real keyring instead of the fake one."""
    return build_harness(policy, ring=ring)


def _send_everything(h: Harness, users: int = 4) -> list[dict[str, Any]]:
    """Consent to every purpose, then navigation and geolocation events with every field."""
    consent = [h.produce(CON, {"schema": "consent/1", "event_id": f"c-{u}", "user_id": f"user-{u}",
                               "occurred_at": at(-60), "source": "banner",
                               "purposes": dict.fromkeys(PURPOSES[:3] + PURPOSES[4:], True)})
               for u in range(users)]
    extra = {"device_id": "dev-{u}", "session_id": "sess-{u}", "ip": "10.0.0.{u}",
             "campaign": "autumn"}
    events: list[dict[str, Any]] = []
    for u, i in itertools.product(range(users), range(3)):
        ids = {k: v.format(u=u) for k, v in extra.items()}
        events.append({"schema": "navigation/1", "event_id": f"n-{u}-{i}", "user_id": f"user-{u}",
                       "occurred_at": at(-30 + i), "app": APP, "type": "screen_view",
                       "screen": "home", **ids})
        events.append({"schema": "geolocation/1", "event_id": f"g-{u}-{i}",
                       "user_id": f"user-{u}", "occurred_at": at(-30 + i), "app": APP,
                       "lat": 48.8566 + u / 100, "lon": 2.3522, "device_id": ids["device_id"],
                       "ip": ids["ip"]})
    msgs = [h.produce(NAV if e["schema"] == "navigation/1" else GEO, e) for e in events]
    h.run(*consent, *msgs)
    return events


def test_no_identifying_value_joins_two_sanitized_topics(real: Harness) -> None:
    _send_everything(real)
    by_topic = {p: real.records(f"sanitized.{p}.v1") for p in PURPOSES}
    assert all(by_topic.values()), {p: len(r) for p, r in by_topic.items()}  # all kept
    values = {p: {v for r in rs for _, v in identifiers(r)} for p, rs in by_topic.items()}
    fields = {f for rs in by_topic.values() for r in rs for f, _ in identifiers(r)}
    # What is checked: the per-purpose event id, the pseudonym and the fraud ciphertexts.
    assert {"event_id", "pseudonym", "enc.coords", "enc.device_id", "enc.ip"} <= fields
    for a, b in itertools.combinations(PURPOSES, 2):
        assert not values[a] & values[b], (a, b, sorted(values[a] & values[b])[:3])


def test_no_output_carries_a_raw_identifier(real: Harness) -> None:
    events = _send_everything(real)
    real.run(real.produce(NAV, b'{"schema": "navigation/1", "event_id": "bad-1", "user_id": 7}'))
    raw = {e["event_id"] for e in events} | {"bad-1"} | {e["user_id"] for e in events} \
        | {e["device_id"] for e in events} | {e["ip"] for e in events}
    topics = {t for t, _, _ in real.sent}
    assert {"pipeline.decisions.v1", "pipeline.deadletter.v1"} <= topics
    for topic, _, value in real.sent:
        text = value.decode()
        leaked = [r for r in raw if json.dumps(r) in text]  # as a whole JSON string value
        assert not leaked, (topic, leaked[:3])


def test_decision_ids_join_no_sanitized_record(real: Harness) -> None:
    _send_everything(real)
    decided = {r["event_id"] for r in real.records("pipeline.decisions.v1")}
    assert None not in decided and len(decided) > 1
    for purpose in PURPOSES:
        sanitized = {v for r in real.records(f"sanitized.{purpose}.v1")
                     for _, v in identifiers(r)}
        assert not decided & sanitized, purpose


def test_ids_are_stable_per_event_and_differ_per_purpose(real: Harness, ring: keys.Keyring) -> None:
    """The sink de-duplicates on them: the same event always gets the same id per topic."""
    events = _send_everything(real, users=1)
    nav = events[0]
    when = datetime.fromisoformat(nav["occurred_at"])
    ids = {p: event_ref(ring, p, nav["event_id"], when) for p in PURPOSES[:4]}
    for purpose, ref in ids.items():
        got = [r["event_id"] for r in real.records(f"sanitized.{purpose}.v1")]
        assert got.count(ref) == 1, purpose
    assert len(set(ids.values())) == len(ids)
    # Domain-separated from the user pseudonym under the same key.
    assert ids["advertising"] != ring.pseudonym("advertising", nav["event_id"], when)
    ref = decision_ref(ring, nav["event_id"], when, NOW)
    decided = [r for r in real.records("pipeline.decisions.v1") if r["event_id"] == ref]
    assert [r["kind"] for r in decided] == ["event"]


def test_decision_id_of_an_event_far_outside_the_key_window(ring: keys.Keyring) -> None:
    """A very late event's ledger epoch has no key: its decision is keyed under now's epoch."""
    long_ago = datetime(2019, 1, 1, tzinfo=UTC)
    with pytest.raises(keys.NoKeyForEpoch):
        ring.pseudonym(LEDGER, "x", long_ago)
    ref = decision_ref(ring, "e-old", long_ago, NOW)
    assert ref == decision_ref(ring, "e-old", NOW - timedelta(days=400), NOW)
    assert ref == decision_ref(ring, "e-old", long_ago, NOW) is not None
    assert decision_ref(ring, "e-old", long_ago, long_ago) is None  # no live ledger key at all
