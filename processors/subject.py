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
from typing import Protocol

from pipeline.partitioner import KeyHashes, kafka_partition


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


def partition_of(user_id: str, partitions: int, hashes: KeyHashes | None = None) -> int:
    """The input partition of ``user_id``'s records (Kafka's default partitioner).

    ``hashes``: remembers the hash of users seen again (the worker's, across batches),
    without their raw ids.
    """
    key = user_id.encode("utf-8")
    return kafka_partition(key, partitions) if hashes is None else \
        hashes.partition_of(key, partitions)


def subject_of(ring: HandleRing, user_id: str, partitions: int,
               hashes: KeyHashes | None = None) -> Subject:
    """The handle and partition of ``user_id`` (``hashes``: see :func:`partition_of`).

    Raises:
        keys.exceptions.NoKeyForEpoch: the keyring has no subject-handle key (``keys ensure``).
    """
    return Subject(ring.subject_handle(user_id).encode("ascii"),
                   partition_of(user_id, partitions, hashes))
