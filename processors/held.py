"""Events held in the grace window: one table key per event, one small index per user.

Keys are the user's subject handle (:mod:`processors.subject`), never the raw id; the held
event's original bytes (which do hold it) are deleted when released or erased.

A hold is two small writes (the event under its own key, then the user's index), never a
rewrite of the user's list: a user with many held events costs the changelog what each event
weighs, once. The index is four numbers whatever the user sent, and the per-user caps
(:class:`~processors.limits.Limits`) bound how many events and bytes wait: beyond them the
engine decides an event at once instead of holding it.

Held events of a user are released oldest first (deadlines grow with the hold order), so they
occupy a contiguous range of sequence numbers ``[first, next)`` and the index needs no list.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Literal

import msgspec

from processors.limits import Limits, check_size
from processors.subject import Subject
from processors.table import Table, homed

# Held is re-exported for the engine (its old import path); new code imports schemas.records.
from schemas.records import Held as Held
from schemas.records import HeldIndex, encode

Added = Literal["first", "added", "already"]

_HELD_DEC = msgspec.json.Decoder(Held)
_INDEX_DEC = msgspec.json.Decoder(HeldIndex)


def _source(held: Held) -> str:
    return f"{held.topic}:{held.partition}"


def _position(held: Held) -> tuple[int, int]:
    return held.offset, held.index


def _last(idx: HeldIndex, source: str) -> tuple[int, int]:
    """Position of the latest event held from ``source`` (offset, index in its envelope)."""
    return idx.last.get(source, -1), idx.last_index.get(source, 0)


def event_key(owner: bytes, seq: int) -> bytes:
    """Table key of one held event (or audit entry): the sequence number (8 bytes) then the
    owner's key (a subject handle).

    The fixed-size prefix keeps keys of different owners apart whatever their keys hold.
    """
    return struct.pack(">Q", seq) + owner


def owner_of_key(key: bytes) -> bytes:
    """The owner part of an :func:`event_key`."""
    return key[8:]


class HeldEvents:
    """Typed access to the held-event index table and the held-event table."""

    def __init__(self, index: Table, events: Table, limits: Limits) -> None:
        self._index = index
        self._events = events
        self.limits = limits

    def index(self, subject: Subject) -> HeldIndex | None:
        """The subject's index, or None when nothing of theirs is held."""
        raw = self._index.get(subject.partition, subject.handle)
        return None if raw is None else _INDEX_DEC.decode(raw)

    def peek(self, subject: Subject, seq: int) -> Held | None:
        """The held event of ``subject`` at sequence number ``seq``, if any."""
        raw = self._events.get(subject.partition, event_key(subject.handle, seq))
        return None if raw is None else _HELD_DEC.decode(raw)

    def room_for(self, subject: Subject, size: int) -> bool:
        """Whether one more event of ``size`` raw bytes fits under the subject's caps."""
        idx = self.index(subject)
        if idx is None:
            return size <= self.limits.held_max_bytes
        return (
            idx.count < self.limits.held_max_events
            and idx.size + size <= self.limits.held_max_bytes
        )

    def add(self, subject: Subject, held: Held) -> Added:
        """Hold one event (the caller checked :meth:`room_for`).

        Returns ``first`` when the subject had nothing held, ``added`` otherwise, ``already``
        when the event was held before (nothing written).

        The event is written before the index: a crash in between leaves a key the index does
        not name yet, which the next hold overwrites. An event already held is not held again.
        """
        idx = self.index(subject)
        first = idx is None
        if idx is None:
            idx = HeldIndex(0, 0, 0, held.partition, held.deadline, home=subject.partition)
        elif _position(held) <= _last(idx, _source(held)):
            return "already"
        key = event_key(subject.handle, idx.next)
        value = encode(held)
        check_size("held_event", key, value, self.limits.value_max_bytes)
        self._events.put(subject.partition, key, value)
        idx.next += 1
        idx.size += len(held.value)
        idx.last[_source(held)] = held.offset
        idx.last_index[_source(held)] = held.index
        self._put_index(subject, idx)
        return "first" if first else "added"

    def take_due(self, subject: Subject, before: float | None = None) -> list[Held]:
        """Remove and return the subject's held events due at ``before`` (all when None),
        oldest first; stops at the first one not due."""
        idx = self.index(subject)
        if idx is None:
            return []
        out: list[Held] = []
        while idx.first < idx.next:
            key = event_key(subject.handle, idx.first)
            raw = self._events.get(subject.partition, key)
            held = None if raw is None else _HELD_DEC.decode(raw)
            if held is not None and before is not None and held.deadline > before:
                idx.head = held.deadline
                break
            if held is not None:
                out.append(held)
                idx.size -= len(held.value)
                self._events.delete(subject.partition, key)
            idx.first += 1
        self._put_index(subject, idx)
        return out

    def drop(self, subject: Subject) -> int:
        """Forget every held event of the subject (erasure); returns how many there were."""
        idx = self.index(subject)
        if idx is None:
            return 0
        for seq in range(idx.first, idx.next):
            self._events.delete(subject.partition, event_key(subject.handle, seq))
        self._index.delete(subject.partition, subject.handle)
        return idx.count

    def subjects(self) -> Iterator[tuple[Subject, HeldIndex]]:
        """Every subject with held events and their index (to rebuild the deadline heap).

        Keys written before handles (raw ids) are skipped: nothing reads them any more.
        """
        return homed(self._index, _INDEX_DEC.decode)

    def _put_index(self, subject: Subject, idx: HeldIndex) -> None:
        if idx.count <= 0:
            self._index.delete(subject.partition, subject.handle)
            return
        idx.size = max(0, idx.size)
        idx.home = subject.partition
        value = encode(idx)
        check_size("held", subject.handle, value, self.limits.value_max_bytes)
        self._index.put(subject.partition, subject.handle, value)
