"""Data-subject rights for the DPO: publish a request, export what the pipeline holds.

The export reads the worker's own state where it is durable, the changelog topics of its
faust tables (consent state and history, events held in the grace window, erasure
tombstone, rights audit), under the user's subject handle on the user's partition. It needs no
running worker and sees exactly what a restarted worker would recover.

Subject verification shows in the export: ``consent.verified`` says, per purpose, whether the
last transition applied came with a subject token the collector verified, and each rights
request carries ``verified``. Every transition's flag is also on ``pipeline.decisions.v1``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from pipeline import compacted, portability
from pipeline.errors import ExportError
from pipeline.kafka import make_producer
from pipeline.policy import Policy
from pipeline.settings import Settings
from pipeline.topics import TopicNames
from processors.held import owner_of_key
from processors.state import loads
from processors.subject import subject_of
from schemas.records import AuditIndex, Erasure, Held

RIGHTS = ("erasure", "objection", "access", "portability", "rectification")
_HELD = msgspec.json.Decoder(Held)
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
        topic = TopicNames.from_settings(settings).consent
        producer.send(topic, key=user.encode(), value=msgspec.json.encode(event)).get(timeout=30)
    finally:
        producer.close()
    return str(event["event_id"])


def latest_value(settings: Settings, topic: str, partition: int, key: bytes) -> bytes | None:
    """The last value written for ``key`` on ``partition`` of ``topic`` (None: none/deleted)."""
    return latest_values(settings, topic, partition, lambda k: k == key).get(key)


def latest_values(
    settings: Settings, topic: str, partition: int, match: Callable[[bytes], bool]
) -> dict[bytes, bytes]:
    """The last value of every key ``match`` accepts on ``partition`` (deleted: absent).

    Raises:
        ExportError: the partition was not read to its end in time.
    """
    return compacted.latest(settings, topic, [partition], match, _READ_TIMEOUT_S, ExportError)


def export(
    settings: Settings, policy: Policy, ring: Any, user: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the pipeline's state holds about ``user``: a ``privacy-pipeline.export/1``
    document (:mod:`pipeline.portability`), before or after an erasure.

    The worker keys its state by the user's subject handle (the keyring's, never the raw id)
    on the user's partition (murmur2 of the raw id, as the producers partition).

    Raises:
        ExportError: a stored record cannot be decoded, or Kafka did not answer in time.
        keys.exceptions.KeysError: the keyring has no subject-handle key (``keys ensure``).
    """
    at = now or datetime.now(UTC)
    subject = subject_of(ring, user, settings.partitions)
    key, part, names = subject.handle, subject.partition, TopicNames.from_settings(settings)
    raw_state = latest_value(settings, names.changelog("consent"), part, key)
    raw_held = latest_values(
        settings, names.changelog("held_event"), part, lambda k: owner_of_key(k) == key
    )
    raw_erased = latest_value(settings, names.changelog("erased"), part, key)
    try:
        state = None if raw_state is None else loads(raw_state)
        held = [_HELD.decode(raw_held[k]) for k in sorted(raw_held)]  # sequence order
        erasure = None if raw_erased is None else _ERASURE.decode(raw_erased)
        audit = _subject_audit(settings, part, key)
    except msgspec.DecodeError as exc:
        raise ExportError(f"a stored record of the worker cannot be decoded ({exc})") from None
    return portability.document(user, at, state, held, erasure, audit)


def _subject_audit(settings: Settings, partition: int, handle: bytes) -> list[Any]:
    """A subject's kept rights requests: one entry each, or a list written before the bound."""
    names = TopicNames.from_settings(settings)
    raw = latest_value(settings, names.changelog("rights_audit"), partition, handle)
    found = None if raw is None else _AUDIT.decode(raw)
    if isinstance(found, list):
        return list(found)
    if found is None:
        return []
    entries = latest_values(
        settings,
        names.changelog("rights_audit_entry"),
        partition,
        lambda k: owner_of_key(k) == handle,
    )
    # Only the latest requests are kept (older ones are counted in the index, not exported).
    return [_RECORD.decode(entries[k]) for k in sorted(entries)]
