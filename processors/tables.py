"""The worker's faust tables: changelogged to Kafka, so state survives a crash.

Keys and values are raw bytes (the app's default serializers): keys the raw user id as
UTF-8 bytes, partitioned by the producer's partitioner (``use_partitioner``), the same
murmur2 hash the apps' producers use, so a user's state lives on the partition number of
their events and consent. Held events have one key each (a sequence number, then the user
id): that table files every key, store and changelog alike, under its user's partition.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from faust.stores.base import SerializedStore
from faust.streams import _current_event
from kafka.partitioner.default import murmur2

from pipeline.app import app, settings
from processors.held import user_of_key

SYNTHETIC_SOURCE = "privacy-pipeline.key-partitioned"
"""The source topic the table-write stubs name (never a Kafka topic)."""


class _Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition
        # Not a topic the consumer knows: faust then skips its check of the "source topic's"
        # partition count against the changelog's (tables declared without use_partitioner
        # run it on every first write). Partitions here are explicit, so the check has nothing
        # to verify, and it fails when the changelog is not in the consumer's metadata yet.
        self.topic = SYNTHETIC_SOURCE


class _PartitionStub:
    """Stands for "an event of partition p" where faust's store asks for the current event."""

    def __init__(self, partition: int) -> None:
        self.message = _Message(partition)


class KeyPartitioned(MutableMapping[bytes, bytes]):
    """A faust table whose writes land in the local store of the key's own partition.

    faust's rocksdb store files a write under the partition of the event being processed;
    the engine also writes from timers and for records read through a fence, so each write
    here names its partition explicitly (murmur2, as the producers and the changelog do).
    """

    def __init__(self, table: Any, partitions: int) -> None:
        self.table = table
        self._partitions = partitions
        # Strong references: the context variable only holds weak ones.
        self._stubs = [_PartitionStub(p) for p in range(partitions)]

    def _hashed(self, key: bytes) -> bytes:
        """The bytes whose murmur2 hash picks the key's partition."""
        return key

    @contextmanager
    def _partition_of(self, key: bytes) -> Iterator[None]:
        stub = self._stubs[(murmur2(self._hashed(key)) & 0x7FFFFFFF) % self._partitions]
        token = _current_event.set(weakref.ref(stub))
        try:
            yield
        finally:
            _current_event.reset(token)

    def __getitem__(self, key: bytes) -> bytes:
        value: bytes = self.table[key]
        return value

    def get(self, key: bytes, default: Any = None) -> Any:
        # One store lookup: faust's Table.get() asks the store twice (contains, then get).
        store = self.table.data
        if isinstance(store, SerializedStore):
            value = store._get(key)
            return default if value is None else value
        return self.table.get(key, default)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._partition_of(key):
            self.table[key] = value

    def __delitem__(self, key: bytes) -> None:
        with self._partition_of(key):
            del self.table[key]

    def __contains__(self, key: object) -> bool:
        return key in self.table

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def items(self) -> Any:
        return self.table.items()


class UserPartitioned(KeyPartitioned):
    """A table of :func:`processors.held.event_key` keys, filed under the owner's partition
    (the user's for held events; the subject's, as its audit index, for rights requests).

    Declared without ``use_partitioner``: faust then sends each changelog write to the
    partition of the current event, which :meth:`_partition_of` sets to the user's, and reads
    the local store of that partition (so reads name it too).
    """

    def _hashed(self, key: bytes) -> bytes:
        return user_of_key(key)

    def get(self, key: bytes, default: Any = None) -> Any:
        with self._partition_of(key):
            return super().get(key, default)

    def __getitem__(self, key: bytes) -> bytes:
        with self._partition_of(key):
            return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        with self._partition_of(key):
            return key in self.table


# faust opens one RocksDB per table and partition (4 x 6 here) with a 2 GiB block cache and
# three 64 MiB write buffers each: unbounded in practice. These bound each to about 24 MiB;
# the hot consent states are served from the engine's own cache anyway.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 8 * 1024 * 1024,
}


def _table(name: str, help_: str, use_partitioner: bool = True) -> Any:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        use_partitioner=use_partitioner,
        help=help_,
        options=ROCKSDB_OPTIONS if settings.worker_store.startswith("rocksdb") else None,
    )


consent = _table("consent", "Consent state per user (history per purpose, objections).")
# "held" once held each user's whole list; a list found there is moved to held_event keys.
held = _table("held", "Where each user's events held in the grace window are (bounded index).")
held_events = _table(
    "held_event", "Events held in the grace window, one key each.", use_partitioner=False
)
erased = _table("erased", "Erasures per user: pending ones and tombstones (time only).")
audit = _table("rights_audit", "Rights audit index per consent-ledger subject (no raw id).")
audit_entries = _table(
    "rights_audit_entry", "Rights requests, one key each (no raw id).", use_partitioner=False
)


_KP = KeyPartitioned


def store_tables() -> tuple[_KP, _KP, _KP, _KP, _KP, _KP]:
    """The six tables, wrapped so every write is filed under its key's (owner's) partition.

    In :class:`~processors.store.Store`'s argument order.
    """
    n = settings.partitions
    return (
        KeyPartitioned(consent, n),
        KeyPartitioned(held, n),
        KeyPartitioned(erased, n),
        KeyPartitioned(audit, n),
        UserPartitioned(held_events, n),
        UserPartitioned(audit_entries, n),
    )
