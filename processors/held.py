"""Events held in the grace window: one table key per event, one small index per user.

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
from collections.abc import Iterator, MutableMapping
from typing import Literal

import msgspec

from processors.limits import Limits, check_size


class Held(msgspec.Struct, array_like=True):
    """An event held until the user's first consent arrives or the grace window ends."""

    topic: str
    partition: int
    offset: int
    value: bytes
    deadline: float
    index: int = 0
    """The event's index in its envelope (0 for a record of one event)."""


class HeldIndex(msgspec.Struct):
    """Where a user's held events are: sequence range, raw bytes, partition, first deadline.

    A JSON object, so a user's list of held events written before (a JSON array, in the same
    table) is told apart and moved to keys of their own when first read (:meth:`index`).
    """

    first: int
    next: int
    size: int
    partition: int
    head: float
    """Deadline of the oldest held event (rebuilds the engine's deadline heap on restart)."""
    last: dict[str, int] = msgspec.field(default_factory=dict)
    """Offset of the latest event held, per input ``topic:partition``: a batch decided again
    after a retry holds nothing twice (holds of one partition come in offset order)."""
    last_index: dict[str, int] = msgspec.field(default_factory=dict)
    """Index in its envelope of that latest event (events of one envelope share an offset)."""

    @property
    def count(self) -> int:
        """Number of events held."""
        return self.next - self.first


Added = Literal["first", "added", "already"]

_ENC = msgspec.json.Encoder()
_HELD_DEC = msgspec.json.Decoder(Held)
_INDEX_DEC = msgspec.json.Decoder(HeldIndex | list[Held])


def _source(held: Held) -> str:
    return f"{held.topic}:{held.partition}"


def _position(held: Held) -> tuple[int, int]:
    return held.offset, held.index


def _last(idx: HeldIndex, source: str) -> tuple[int, int]:
    """Position of the latest event held from ``source`` (offset, index in its envelope)."""
    return idx.last.get(source, -1), idx.last_index.get(source, 0)


def event_key(user: str, seq: int) -> bytes:
    """Table key of one held event: the sequence number (8 bytes) then the user id.

    The fixed-size prefix keeps keys of different users apart whatever their ids hold; the
    table files the key under the partition of its user id (``key[8:]``).
    """
    return struct.pack(">Q", seq) + user.encode()


def user_of_key(key: bytes) -> bytes:
    """The user id part of an :func:`event_key` (what the key is partitioned by)."""
    return key[8:]


class HeldEvents:
    """Typed access to the held-event index table and the held-event table."""

    def __init__(
        self,
        index: MutableMapping[bytes, bytes],
        events: MutableMapping[bytes, bytes],
        limits: Limits,
    ) -> None:
        self._index = index
        self._events = events
        self.limits = limits

    def index(self, user: str) -> HeldIndex | None:
        """The user's index, or None when nothing of theirs is held."""
        raw = self._index.get(user.encode())
        found = None if raw is None else _INDEX_DEC.decode(raw)
        return self._migrate(user, found) if isinstance(found, list) else found

    def _migrate(self, user: str, items: list[Held]) -> HeldIndex | None:
        """Move a list of held events written before the bound to keys of their own, once.

        Every event is kept (such a list is bounded by the broker's message size): an upgrade
        loses no held event.
        """
        if not items:
            del self._index[user.encode()]
            return None
        idx = HeldIndex(0, 0, 0, items[0].partition, items[0].deadline)
        for held in items:
            self._events[event_key(user, idx.next)] = _ENC.encode(held)
            idx.next += 1
            idx.size += len(held.value)
            idx.last[_source(held)] = max(held.offset, idx.last.get(_source(held), -1))
        self._put_index(user, idx)
        return idx

    def peek(self, user: str, seq: int) -> Held | None:
        """The held event of ``user`` at sequence number ``seq``, if any."""
        raw = self._events.get(event_key(user, seq))
        return None if raw is None else _HELD_DEC.decode(raw)

    def room_for(self, user: str, size: int) -> bool:
        """Whether one more event of ``size`` raw bytes fits under the user's caps."""
        idx = self.index(user)
        if idx is None:
            return size <= self.limits.held_max_bytes
        return (
            idx.count < self.limits.held_max_events
            and idx.size + size <= self.limits.held_max_bytes
        )

    def add(self, user: str, held: Held) -> Added:
        """Hold one event (the caller checked :meth:`room_for`).

        Returns ``first`` when the user had nothing held, ``added`` otherwise, ``already`` when
        the event was held before (nothing written).

        The event is written before the index: a crash in between leaves a key the index does
        not name yet, which the next hold overwrites. An event already held is not held again.
        """
        idx = self.index(user)
        first = idx is None
        if idx is None:
            idx = HeldIndex(0, 0, 0, held.partition, held.deadline)
        elif _position(held) <= _last(idx, _source(held)):
            return "already"
        key = event_key(user, idx.next)
        value = _ENC.encode(held)
        check_size("held_event", key, value, self.limits.value_max_bytes)
        self._events[key] = value
        idx.next += 1
        idx.size += len(held.value)
        idx.last[_source(held)] = held.offset
        idx.last_index[_source(held)] = held.index
        self._put_index(user, idx)
        return "first" if first else "added"

    def take_due(self, user: str, before: float | None = None) -> list[Held]:
        """Remove and return the user's held events due at ``before`` (all when None), oldest
        first; stops at the first one not due."""
        idx = self.index(user)
        if idx is None:
            return []
        out: list[Held] = []
        while idx.first < idx.next:
            key = event_key(user, idx.first)
            raw = self._events.get(key)
            held = None if raw is None else _HELD_DEC.decode(raw)
            if held is not None and before is not None and held.deadline > before:
                idx.head = held.deadline
                break
            if held is not None:
                out.append(held)
                idx.size -= len(held.value)
                del self._events[key]
            idx.first += 1
        self._put_index(user, idx)
        return out

    def drop(self, user: str) -> int:
        """Forget every held event of the user (erasure); returns how many there were."""
        idx = self.index(user)
        if idx is None:
            return 0
        for seq in range(idx.first, idx.next):
            key = event_key(user, seq)
            if key in self._events:
                del self._events[key]
        del self._index[user.encode()]
        return idx.count

    def users(self) -> Iterator[tuple[str, HeldIndex]]:
        """Every user with held events and their index (to rebuild the deadline heap)."""
        for key, raw in list(self._index.items()):
            if raw is None:
                continue
            user = key.decode()
            found = _INDEX_DEC.decode(raw)
            idx = self._migrate(user, found) if isinstance(found, list) else found
            if idx is not None:
                yield user, idx

    def _put_index(self, user: str, idx: HeldIndex) -> None:
        key = user.encode()
        if idx.count <= 0:
            if key in self._index:
                del self._index[key]
            return
        idx.size = max(0, idx.size)
        value = _ENC.encode(idx)
        check_size("held", key, value, self.limits.value_max_bytes)
        self._index[key] = value
