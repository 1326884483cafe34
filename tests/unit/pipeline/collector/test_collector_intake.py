"""From batch items to Kafka records: validation, routing, ip and GPC at the edge."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from pipeline.collector.intake import (
    CONSENT_SCHEMAS,
    EVENT_SCHEMAS,
    CollectorTopics,
    Edge,
    build_intake,
    decode_batch,
    reason_label,
)
from pipeline.collector.subject import SubjectCheck
from pipeline.topics import TopicNames
from schemas.exceptions import InvalidEvent

TOPICS = CollectorTopics("nav", "geo", "consent").by_schema()
APP = {"name": "mm", "platform": "ios", "version": "1.0"}


def nav(i: int, **extra: Any) -> dict[str, Any]:
    return {"schema": "navigation/1", "event_id": f"e{i}", "user_id": f"u{i}",
            "occurred_at": "2026-11-26T10:00:00+01:00", "app": APP, "type": "screen_view",
            "screen": "home", **extra}


def geo(i: int) -> dict[str, Any]:
    return {"schema": "geolocation/1", "event_id": f"g{i}", "user_id": f"u{i}",
            "occurred_at": "2026-11-26T10:00:00Z", "app": APP, "lat": 48.85, "lon": 2.35}


def consent(i: int, **extra: Any) -> dict[str, Any]:
    return {"schema": "consent/1", "event_id": f"c{i}", "user_id": f"u{i}",
            "occurred_at": "2026-11-26T10:00:00Z", "purposes": {"advertising": True},
            "source": "banner", **extra}


def items(*events: Any) -> list[msgspec.Raw]:
    return list(decode_batch(msgspec.json.encode(list(events))))


NO_EDGE = Edge(client_ip=None, gpc=False)


def test_valid_events_are_routed_and_keyed_by_user_id() -> None:
    out = build_intake(items(nav(1), geo(2)), EVENT_SCHEMAS, TOPICS, NO_EDGE)
    assert out.rejected == []
    assert [(r.topic, r.key, r.schema) for r in out.records] == [
        ("nav", b"u1", "navigation/1"), ("geo", b"u2", "geolocation/1")
    ]
    value = msgspec.json.decode(out.records[0].value)
    assert value["event_id"] == "e1" and value["occurred_at"] == "2026-11-26T10:00:00+01:00"


def test_rejections_carry_index_reason_and_field() -> None:
    batch = items(nav(0), geo(1) | {"lat": 91}, nav(2) | {"extra": 1}, 42, nav(4))
    out = build_intake(batch, EVENT_SCHEMAS, TOPICS, NO_EDGE)
    assert [r.key for r in out.records] == [b"u0", b"u4"]
    assert [(r.index, r.field) for r in out.rejected] == [(1, "lat"), (2, "extra"), (3, None)]
    assert out.rejected[0].reason.startswith("lat: ")
    assert "unknown field" in out.rejected[1].reason
    assert [r.label for r in out.rejected] == ["invalid_lat", "unknown_field", "malformed"]


def test_events_on_the_wrong_endpoint_are_rejected_with_the_right_one() -> None:
    out = build_intake(items(consent(0), nav(1)), EVENT_SCHEMAS, TOPICS, NO_EDGE)
    assert out.rejected[0].reason.endswith("post them to /v1/consent")
    assert out.rejected[0].label == "wrong_endpoint"
    out = build_intake(items(nav(0)), CONSENT_SCHEMAS, TOPICS, NO_EDGE)
    assert out.rejected[0].reason.endswith("post them to /v1/events")


def rights(i: int) -> dict[str, Any]:
    return {"schema": "rights/1", "event_id": f"r{i}", "user_id": f"u{i}",
            "occurred_at": "2026-11-26T10:00:00Z", "right": "erasure"}


def test_gpc_header_marks_consent_events_only() -> None:
    batch = items(consent(0), consent(1, gpc=False), rights(2))
    out = build_intake(batch, CONSENT_SCHEMAS, TOPICS, Edge(client_ip=None, gpc=True))
    values = [msgspec.json.decode(r.value) for r in out.records]
    assert len(values) == 3
    assert [v.get("gpc") for v in values] == [True, True, None]
    plain = build_intake(items(consent(0)), CONSENT_SCHEMAS, TOPICS, NO_EDGE)
    assert "gpc" not in msgspec.json.decode(plain.records[0].value)


@pytest.mark.parametrize(("client_ip", "sent", "stored"), [
    ("203.0.113.9", None, "203.0.113.9"),
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # the observed address wins
    (None, "198.51.100.1", None),  # policy drops ip: removed at the edge
])
def test_ip_is_attached_only_when_kept(
    client_ip: str | None, sent: str | None, stored: str | None
) -> None:
    event = nav(0) if sent is None else nav(0, ip=sent)
    out = build_intake(items(event), EVENT_SCHEMAS, TOPICS, Edge(client_ip, gpc=False))
    assert msgspec.json.decode(out.records[0].value).get("ip") == stored


def test_reason_labels_are_bounded() -> None:
    assert reason_label(InvalidEvent("x", None)) == "malformed"
    assert reason_label(InvalidEvent("app.platform: invalid", "app.platform")) == (
        "invalid_app_platform"
    )
    assert reason_label(InvalidEvent("zzz: unknown field; remove it", "zzz")) == "unknown_field"
    assert reason_label(InvalidEvent("whatever", "client-chosen")) == "invalid"


def test_default_topics_are_the_contract_ones_under_the_prefix() -> None:
    assert CollectorTopics.of(TopicNames("")).by_schema() == {
        "navigation/1": "app.navigation.v1", "geolocation/1": "app.geolocation.v1",
        "consent/1": "privacy.consent.v1", "rights/1": "privacy.consent.v1",
    }
    assert CollectorTopics.of(TopicNames("t1.")).navigation == "t1.app.navigation.v1"


def test_valid_events_outside_the_key_scopes_are_listed_as_forbidden() -> None:
    edge = Edge(client_ip=None, gpc=False, scopes=frozenset({"events", "consent"}))
    out = build_intake(items(consent(0), rights(1), nav(2), rights(3)), CONSENT_SCHEMAS, TOPICS,
                       edge)
    assert out.forbidden == {"rights": [1, 3]}
    assert [r.schema for r in out.records] == ["consent/1"]  # the route refuses the batch
    assert [r.index for r in out.rejected] == [2]  # wrong endpoint, as before
    rights_key = Edge(client_ip=None, gpc=False, scopes=frozenset({"rights"}))
    out = build_intake(items(consent(0), rights(1)), CONSENT_SCHEMAS, TOPICS, rights_key)
    assert out.forbidden == {"consent": [0]} and [r.schema for r in out.records] == ["rights/1"]


def test_an_event_the_enrichment_makes_invalid_is_rejected_not_produced() -> None:
    # Whatever the edge adds is validated again, as the worker will validate it.
    out = build_intake(items(nav(0), nav(1)), EVENT_SCHEMAS, TOPICS, Edge("9" * 65, gpc=False))
    assert not out.records
    assert [(r.index, r.field) for r in out.rejected] == [(0, "ip"), (1, "ip")]
    assert "after the collector added" in out.rejected[0].reason


def test_consent_records_carry_the_collectors_verification_header() -> None:
    bound = Edge(None, False, subject=SubjectCheck("u0"))
    out = build_intake(items(consent(0), consent(1), rights(0)), CONSENT_SCHEMAS, TOPICS, bound)
    assert [(r.index, r.field, r.label) for r in out.rejected] == [
        (1, "user_id", "subject_unverified")
    ]
    assert [r.headers() for r in out.records] == [[("pp-subject-verified", b"1")]] * 2
    failed = Edge(None, False, subject=SubjectCheck(None, "subject token expired"))
    out = build_intake(items(consent(0), rights(0)), CONSENT_SCHEMAS, TOPICS, failed)
    assert not out.records and {r.reason for r in out.rejected} == {"subject token expired"}
    unbound = build_intake(items(consent(0)), CONSENT_SCHEMAS, TOPICS, NO_EDGE)
    assert unbound.records[0].headers() == [("pp-subject-verified", b"0")]
    events = build_intake(items(nav(0)), EVENT_SCHEMAS, TOPICS, bound)
    assert events.records[0].headers() is None  # events are not about consent
