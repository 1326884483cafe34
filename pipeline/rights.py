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
from collections.abc import Callable
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
from processors.audit import AuditIndex
from processors.context import TopicNames
from processors.held import Held, user_of_key
from processors.state import loads
from processors.store import Erasure

RIGHTS = ("erasure", "objection", "access", "portability", "rectification")
_HELD = msgspec.json.Decoder(Held)
_HELD_LIST = msgspec.json.Decoder(list[Held])
_ERASURE = msgspec.json.Decoder(Erasure)
_READ_TIMEOUT_S = 60.0
"""Bound on reading one changelog partition (a DPO's command must not hang)."""
_AUDIT = msgspec.json.Decoder(AuditIndex | list[dict[str, Any]])
_RECORD = msgspec.json.Decoder(dict[str, Any])


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
    return latest_values(settings, topic, key, lambda k: k == key).get(key)


def latest_values(
    settings: Settings, topic: str, user: bytes, match: Callable[[bytes], bool]
) -> dict[bytes, bytes]:
    """The last value of every key ``match`` accepts on ``user``'s partition (deleted: absent)."""
    consumer = make_consumer(settings, enable_auto_commit=False, group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return {}
        tp = TopicPartition(topic, (murmur2(user) & 0x7FFFFFFF) % len(parts))
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        values: dict[bytes, bytes] = {}
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise ExportError(f"reading {topic} took over {_READ_TIMEOUT_S:.0f} s; retry")
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    if r.key is not None and match(r.key):
                        if r.value is None:
                            values.pop(r.key, None)
                        else:
                            values[r.key] = r.value
        return values
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
    raw_held = latest_values(
        settings, changelog(settings, "held_event"), key, lambda k: user_of_key(k) == key
    )
    raw_erased = latest_value(settings, changelog(settings, "erased"), key)
    try:
        state = None if raw_state is None else loads(raw_state)
        held = [_HELD.decode(raw_held[k]) for k in sorted(raw_held)]  # sequence order
        index = latest_value(settings, changelog(settings, "held"), key)
        if index is not None and index.startswith(b"["):  # a list not yet moved (older version)
            held = _HELD_LIST.decode(index) + held
        erasure = None if raw_erased is None else _ERASURE.decode(raw_erased)
        audit = _audit(settings, policy, ring, user, at)
    except msgspec.DecodeError as exc:
        raise ExportError(f"a stored record of the worker cannot be decoded ({exc})") from None
    return portability.document(user, at, state, held, erasure, audit)


def _audit(settings: Settings, policy: Policy, ring: Any, user: str, at: datetime) -> list[Any]:
    records: list[Any] = []
    for epoch_day in _epoch_days(ring, policy, at):
        try:
            subject = ring.pseudonym(LEDGER, user, epoch_day)
        except KeysError:  # epoch never keyed or already destroyed: nothing to find under it
            continue
        records.extend(_subject_audit(settings, subject.encode()))
    return sorted(records, key=lambda r: str(r.get("at")))


def _subject_audit(settings: Settings, subject: bytes) -> list[Any]:
    """A subject's kept rights requests: one entry each, or a list written before the bound."""
    raw = latest_value(settings, changelog(settings, "rights_audit"), subject)
    found = None if raw is None else _AUDIT.decode(raw)
    if isinstance(found, list):
        return list(found)
    if found is None:
        return []
    entries = latest_values(settings, changelog(settings, "rights_audit_entry"), subject,
                            lambda k: user_of_key(k) == subject)
    # Only the latest requests are kept (older ones are counted in the index, not exported).
    return [_RECORD.decode(entries[k]) for k in sorted(entries)]


def _epoch_days(ring: Any, policy: Policy, now: datetime) -> list[datetime]:
    days: dict[str, datetime] = {}
    day = now
    horizon = now - timedelta(days=min(policy.consent_ledger.retention_days, 400))
    while day >= horizon:
        days.setdefault(ring.epoch_of(LEDGER, day), day)
        day -= timedelta(days=1)
    return list(days.values())
