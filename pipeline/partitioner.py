"""Kafka's default partitioner, as the apps' producers and the collector partition records.

The consent core (:mod:`processors.subject`) files a user's state on the partition of their
records; it imports this module, not a Kafka client, for the hash.

kafka-python's murmur2 is pure Python (about 5 us a key), so callers that see the same users
again remember the hash in a :class:`KeyHashes`. It remembers it under a keyed digest, never
the key itself: the keys are raw user ids, and a cache of them would keep an erased user's id
in memory for as long as the process runs.
"""

from __future__ import annotations

import hashlib
import os

from kafka.partitioner.default import murmur2

CACHED_KEYS = 65_536
"""Hashes a :class:`KeyHashes` remembers (about 10 MB) before it starts again empty."""


def key_hash(key: bytes) -> int:
    """Kafka's default partitioner hash of ``key`` (murmur2, made positive), as Java computes it."""
    return int(murmur2(key)) & 0x7FFFFFFF


def kafka_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, made positive) picks for ``key``."""
    return key_hash(key) % partitions


class KeyHashes:
    """:func:`key_hash` of keys seen again, remembered without the keys.

    Entries are indexed by a BLAKE2b digest of the key under a random key of this object
    (0.4 us), which lives only in this process's memory: the index cannot be matched to an
    id without it, and it is gone with the process. 128-bit digests: a collision (a wrong
    partition) is as likely as one between two users' keyed handles. Bounded: the index is
    emptied when full (cheaper than an LRU's bookkeeping on every hit).
    """

    __slots__ = ("_digest", "_hashes", "_max")

    def __init__(self, size: int = CACHED_KEYS) -> None:
        self._digest = hashlib.blake2b(key=os.urandom(32), digest_size=16)
        self._hashes: dict[bytes, int] = {}
        self._max = size

    def __len__(self) -> int:
        return len(self._hashes)

    def hash_of(self, key: bytes) -> int:
        """:func:`key_hash` of ``key``."""
        digest = self._digest.copy()
        digest.update(key)
        index = digest.digest()
        hashed = self._hashes.get(index)
        if hashed is None:
            if len(self._hashes) >= self._max:
                self._hashes.clear()
            hashed = self._hashes[index] = key_hash(key)
        return hashed

    def partition_of(self, key: bytes, partitions: int) -> int:
        """The partition Kafka's default partitioner picks for ``key`` among ``partitions``."""
        return self.hash_of(key) % partitions

    def indexed(self) -> list[bytes]:
        """What this cache holds as its index (for tests: never a key)."""
        return list(self._hashes)
