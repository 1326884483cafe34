"""A request's accepted events as Kafka messages: one envelope per (topic, user, header)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from pipeline.collector.envelopes import pack
from pipeline.collector.intake import EVENT_SCHEMAS, Edge, Record, build_intake
from schemas import validator
from schemas.envelope import MAX_ENVELOPE_EVENTS, PACK_MAX_BYTES
from schemas.events import Event
from tests.unit.pipeline.collector.test_collector_intake import TOPICS, geo, items, nav
from tests.unit.pipeline.collector.test_collector_producer import FakeKafka, started


def _user(i: int, user: str, **extra: Any) -> dict[str, Any]:
    return nav(i, user_id=user, **extra) if "user_id" not in extra else nav(i, **extra)


def _events(message: Record) -> list[Event]:
    """The events a worker reads from ``message`` (all valid for the collector's output)."""
    out = []
    for item in validator.decode_message(message.value, message.key):
        assert not isinstance(item.result, Exception), item.result
        out.append(item.result)
    return out


def test_a_users_events_on_a_topic_share_one_envelope_in_request_order() -> None:
    batch = [nav(1, user_id="a"), nav(2, user_id="b"), geo(3), nav(4, user_id="a")]
    intake = build_intake(items(*batch), EVENT_SCHEMAS, TOPICS, Edge(None, gpc=False))
    messages = pack(intake.records)
    assert [(m.topic, m.key, m.schema) for m in messages] == [
        ("nav", b"a", "batch/1"),
        ("nav", b"b", "navigation/1"),  # a group of one stays a plain event
        ("geo", b"u3", "geolocation/1"),
    ]
    assert [e.event_id for e in _events(messages[0])] == ["e1", "e4"]
    assert messages[1].value == intake.records[1].value


def test_events_with_another_subject_verified_header_travel_apart() -> None:
    records = [
        Record("c", b"a", b'{"n":1}', "consent/1", True),
        Record("c", b"a", b'{"n":2}', "consent/1", False),
        Record("c", b"a", b'{"n":3}', "consent/1", True),
    ]
    messages = pack(records)
    assert [(m.verified, m.schema) for m in messages] == [(True, "batch/1"), (False, "consent/1")]
    assert messages[0].headers() == records[0].headers()


def test_envelopes_are_split_at_the_event_and_byte_limits() -> None:
    many = [Record("t", b"a", b'{"n":%d}' % i, "navigation/1") for i in range(1201)]
    counts = [len(msgspec.json.decode(m.value)["events"]) for m in pack(many)[:2]]
    assert counts == [MAX_ENVELOPE_EVENTS, MAX_ENVELOPE_EVENTS]
    assert len(pack(many)) == 3
    big = [Record("t", b"a", b'"' + b"x" * 60_000 + b'"', "navigation/1") for _ in range(40)]
    messages = pack(big)
    assert all(len(m.value) <= PACK_MAX_BYTES for m in messages)
    assert sum(len(msgspec.json.decode(m.value)["events"]) for m in messages) == 40
    assert len(messages) == 3  # 17 + 17 + 6 events of 60 kB


def test_each_envelope_is_at_most_the_limit_exactly() -> None:
    value = b'"' + b"x" * 998 + b'"'  # 1000 bytes
    records = [Record("t", b"a", value, "navigation/1") for _ in range(3)]
    exact = 32 + 3 * 1000 + 2  # wrapper, three events, two commas
    assert [len(m.value) for m in pack(records, max_bytes=exact)] == [exact]
    assert len(pack(records, max_bytes=exact - 1)) == 2


def test_the_producer_sends_one_message_per_group_and_acknowledges_all() -> None:
    fake = FakeKafka()
    producer = started(fake)
    records = [Record("t", b"a", b"{}", "navigation/1") for _ in range(5)]
    records += [Record("t", b"b", b"{}", "navigation/1")]
    try:
        asyncio.run(producer.produce(records))
    finally:
        producer.close()
    assert [(topic, key) for topic, key, _ in fake.sent] == [("t", b"a"), ("t", b"b")]
