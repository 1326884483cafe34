"""Data-subject rights for the DPO: publish a request, export what the pipeline holds.

The export reads the worker's own state where it is durable, the changelog topics of its
faust tables (consent state and history, events held in the grace window, erasure
tombstone, rights audit), on the one partition the user's key hashes to. It needs no running
worker and sees exactly what a restarted worker would recover.

Subject verification shows in the export: ``consent.verified`` says, per purpose, whether the
last transition applied came with a subject token the collector verified, and each rights
request carries ``verified``. Every transition's flag is also on ``pipeline.decisions.v1``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from kafka import TopicPartition
from kafka.partitioner.default import murmur2

from keys.exceptions import KeysError
from pipeline import portability
from pipeline.errors import ExportError
from pipeline.kafka import make_consumer, make_producer
from pipeline.policy import Policy
from pipeline.policy.fields import LEDGER
from pipeline.settings import Settings
from processors.context import TopicNames
from processors.state import loads
from processors.store import Erasure, Held

RIGHTS = ("erasure", "objection", "access", "portability", "rectification")
_HELD = msgspec.json.Decoder(list[Held])
_ERASURE = msgspec.json.Decoder(Erasure)
_READ_TIMEOUT_S = 60.0
"""Bound on reading one changelog partition (a DPO's command must not hang)."""
_AUDIT = msgspec.json.Decoder(list[dict[str, Any]])


def request(
    settings: Settings,
    user: str,
    right: str,
    purposes: list[str] | None = None,
    now: datetime | None = None,
) -> str:
    """Publish a rights/1 event for ``user``; returns its event id once Kafka acknowledged it."""
    at = now or datetime.now(UTC)
    event: dict[str, Any] = {
        "schema": "rights/1",
        "event_id": f"rights-{uuid.uuid4()}",
        "user_id": user,
        "occurred_at": at.isoformat(),
        "right": right,
    }
    if purposes:
        event["purposes"] = purposes
    producer = make_producer(settings)
    try:
        topic = TopicNames(settings.topic_prefix).consent
        producer.send(topic, key=user.encode(), value=msgspec.json.encode(event)).get(timeout=30)
    finally:
        producer.close()
    return str(event["event_id"])


def changelog(settings: Settings, table: str) -> str:
    """Changelog topic of one worker table (faust names it ``<app id>-<table>-changelog``)."""
    return f"{settings.topic_prefix}privacy-pipeline-{table}-changelog"


def latest_value(settings: Settings, topic: str, key: bytes) -> bytes | None:
    """The last value written for ``key`` on its partition of ``topic`` (None: none/deleted)."""
    consumer = make_consumer(settings, enable_auto_commit=False, group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return None
        tp = TopicPartition(topic, (murmur2(key) & 0x7FFFFFFF) % len(parts))
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        value: bytes | None = None
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise ExportError(f"reading {topic} took over {_READ_TIMEOUT_S:.0f} s; retry")
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    if r.key == key:
                        value = r.value
        return value
    finally:
        consumer.close()


def export(
    settings: Settings, policy: Policy, ring: Any, user: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the pipeline's state holds about ``user``: a ``privacy-pipeline.export/1``
    document (:mod:`pipeline.portability`), before or after an erasure.

    Raises:
        ExportError: a stored record cannot be decoded, or Kafka did not answer in time.
    """
    at = now or datetime.now(UTC)
    key = user.encode()
    raw_state = latest_value(settings, changelog(settings, "consent"), key)
    raw_held = latest_value(settings, changelog(settings, "held"), key)
    raw_erased = latest_value(settings, changelog(settings, "erased"), key)
    try:
        state = None if raw_state is None else loads(raw_state)
        held = [] if raw_held is None else _HELD.decode(raw_held)
        erasure = None if raw_erased is None else _ERASURE.decode(raw_erased)
        audit = _audit(settings, policy, ring, user, at)
    except msgspec.DecodeError as exc:
        raise ExportError(f"a stored record of the worker cannot be decoded ({exc})") from None
    return portability.document(user, at, state, held, erasure, audit)


def _audit(settings: Settings, policy: Policy, ring: Any, user: str, at: datetime) -> list[Any]:
    records: list[Any] = []
    topic = changelog(settings, "rights_audit")
    for epoch_day in _epoch_days(ring, policy, at):
        try:
            subject = ring.pseudonym(LEDGER, user, epoch_day)
        except KeysError:  # epoch never keyed or already destroyed: nothing to find under it
            continue
        raw = latest_value(settings, topic, subject.encode())
        if raw is not None:
            records.extend(_AUDIT.decode(raw))
    return records


def _epoch_days(ring: Any, policy: Policy, now: datetime) -> list[datetime]:
    days: dict[str, datetime] = {}
    day = now
    horizon = now - timedelta(days=min(policy.consent_ledger.retention_days, 400))
    while day >= horizon:
        days.setdefault(ring.epoch_of(LEDGER, day), day)
        day -= timedelta(days=1)
    return list(days.values())
