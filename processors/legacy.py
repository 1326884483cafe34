"""State written before subject handles, keyed by raw user ids: moved to handle keys on recovery.

Versions before handles keyed the consent, held and erasure tables by the raw ``user_id``
(and held events by a sequence number then the raw id), filed under murmur2 of the raw id:
the subject's partition. Left there, those keys would keep raw ids in the changelogs for ever
and lose the users' consent, held events and pending erasures on upgrade. The raw id is the
key itself, so each is moved to the user's handle (unless the handle already has a value:
that one is newer) and the raw key deleted (a changelog tombstone). The rights audit was keyed
by consent-ledger pseudonyms (no raw id): those old per-day trails are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from processors.held import event_key, owner_of_key
from processors.subject import Subject
from processors.table import Table, is_handle
from schemas.records import Held, HeldIndex

SubjectOf = Callable[[str], Subject]

_ENC = msgspec.json.Encoder()
_OLD_INDEX = msgspec.json.Decoder(HeldIndex | list[Held])


def _raw_keys(table: Table) -> list[bytes]:
    """Keys that are not handles (only those are listed: the scan itself stays lazy)."""
    return [key for key, _ in table.scan() if not is_handle(key)]


def _subject(subject_of: SubjectOf, raw: bytes) -> Subject | None:
    try:
        return subject_of(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def move_values(
    table: Table, subject_of: SubjectOf, adapt: Callable[[bytes, Subject], bytes]
) -> int:
    """Move every raw-id key of a per-user table to its handle; how many were found."""
    raw_keys = _raw_keys(table)
    for raw in raw_keys:
        subject = _subject(subject_of, raw)
        if subject is None:
            continue
        value = table.get(subject.partition, raw)
        if value is not None and table.get(subject.partition, subject.handle) is None:
            table.put(subject.partition, subject.handle, adapt(value, subject))
        table.delete(subject.partition, raw)
    return len(raw_keys)


def move_held(index: Table, events: Table, subject_of: SubjectOf) -> int:
    """Move held-event indexes and their events to handle keys; orphans are deleted."""
    moved = 0
    for raw in _raw_keys(index):
        subject = _subject(subject_of, raw)
        value = None if subject is None else index.get(subject.partition, raw)
        if subject is None or value is None:
            continue
        found = _OLD_INDEX.decode(value)
        held = found if isinstance(found, list) else _old_events(events, subject, raw, found)
        if index.get(subject.partition, subject.handle) is None and held:
            new = HeldIndex(0, 0, 0, held[0].partition, held[0].deadline, home=subject.partition)
            for item in held:
                events.put(
                    subject.partition, event_key(subject.handle, new.next), _ENC.encode(item)
                )
                new.next += 1
                new.size += len(item.value)
                source = f"{item.topic}:{item.partition}"
                new.last[source] = max(item.offset, new.last.get(source, -1))
            index.put(subject.partition, subject.handle, _ENC.encode(new))
        index.delete(subject.partition, raw)
        moved += 1
    for key in [k for k, _ in events.scan() if not is_handle(owner_of_key(k))]:
        subject = _subject(subject_of, owner_of_key(key))
        if subject is not None:
            events.delete(subject.partition, key)
    return moved


def _old_events(events: Table, subject: Subject, raw: bytes, idx: HeldIndex) -> list[Held]:
    """The held events an old index names (keys: sequence number then the raw id), deleted."""
    out: list[Held] = []
    for seq in range(idx.first, idx.next):
        key = event_key(raw, seq)
        value = events.get(subject.partition, key)
        if value is not None:
            out.append(msgspec.json.decode(value, type=Held))
            events.delete(subject.partition, key)
    return out
