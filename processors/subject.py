"""Who a per-user record belongs to, without the raw id: a keyed handle and a partition.

Every per-user record the worker keeps (consent state, held events, erasure tombstones,
subject keys) is keyed by the handle, never by the raw ``user_id``: a store file, changelog
or the subject-keys topic then holds no raw id, and an erased user's handle cannot be turned
back into their id without the keyring. The partition is the user's input partition (murmur2
of the raw id, as the apps' producers and the collector partition), so the state of a user
lives where their events and consent are read, whatever partition a record arrived on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from pipeline.partitioner import kafka_partition


class HandleRing(Protocol):
    """The part of :class:`keys.Keyring` this module needs."""

    def subject_handle(self, user_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Subject:
    """A user as the worker's tables know them."""

    handle: bytes
    """32 lower-case hex digits as ASCII: the table and topic key."""
    partition: int
    """The user's input partition: where their records are filed."""


@lru_cache(maxsize=65536)
def partition_of(user_id: str, partitions: int) -> int:
    """The input partition of ``user_id``'s records (Kafka's default partitioner).

    Cached: the worker asks once per record, and kafka-python's murmur2 is pure Python
    (about 3 us an id; the cache holds ids in memory only, as the records being decided do).
    """
    return kafka_partition(user_id.encode("utf-8"), partitions)


def subject_of(ring: HandleRing, user_id: str, partitions: int) -> Subject:
    """The handle and partition of ``user_id``.

    Raises:
        keys.exceptions.NoKeyForEpoch: the keyring has no subject-handle key (``keys ensure``).
    """
    return Subject(ring.subject_handle(user_id).encode("ascii"), partition_of(user_id, partitions))
