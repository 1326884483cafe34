"""The worker's faust tables: changelogged to Kafka, so state survives a crash.

Keys and values are raw bytes (the app's default serializers): keys the raw user id as
UTF-8 bytes, partitioned by the producer's partitioner (``use_partitioner``), the same
murmur2 hash the apps' producers use, so a user's state lives on the partition number of
their events and consent.
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


class _Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


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

    @contextmanager
    def _partition_of(self, key: bytes) -> Iterator[None]:
        stub = self._stubs[(murmur2(key) & 0x7FFFFFFF) % self._partitions]
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


# faust opens one RocksDB per table and partition (4 x 6 here) with a 2 GiB block cache and
# three 64 MiB write buffers each: unbounded in practice. These bound each to about 24 MiB;
# the hot consent states are served from the engine's own cache anyway.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 8 * 1024 * 1024,
}


def _table(name: str, help_: str) -> Any:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        use_partitioner=True,
        help=help_,
        options=ROCKSDB_OPTIONS if settings.worker_store.startswith("rocksdb") else None,
    )


consent = _table("consent", "Consent state per user (history per purpose, objections).")
held = _table("held", "Events held in the grace window, per user.")
erased = _table("erased", "Erasures per user: pending ones and tombstones (time only).")
audit = _table("rights_audit", "Rights requests per consent-ledger subject (no raw id).")


def store_tables() -> tuple[KeyPartitioned, KeyPartitioned, KeyPartitioned, KeyPartitioned]:
    """The four tables, wrapped so every write is filed under its key's partition."""
    n = settings.partitions
    return (
        KeyPartitioned(consent, n),
        KeyPartitioned(held, n),
        KeyPartitioned(erased, n),
        KeyPartitioned(audit, n),
    )
