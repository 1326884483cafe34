"""Kafka's default partitioner, as the apps' producers and the collector partition records.

The consent core (:mod:`processors.subject`) files a user's state on the partition of their
records; it imports this module, not a Kafka client, for the hash.
"""

from __future__ import annotations

from kafka.partitioner.default import murmur2


def kafka_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, made positive) picks for ``key``."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions
