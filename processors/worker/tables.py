"""The worker's faust tables: changelogged to Kafka, so state survives a crash.

Keys and values are raw bytes: keys a subject handle (:mod:`processors.subject`), never the
raw user id; held events and audit entries have one key each (a sequence number, then the
handle). A handle's hash says nothing of its user's partition, so every access names the
partition (the subject's: murmur2 of the raw id, as the apps' producers partition), and the
table files the key, store and changelog alike, there: a user's state lives on the partition
number of their events and consent.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from faust.stores.base import SerializedStore
from faust.streams import _current_event

from pipeline.settings import Settings
from pipeline.topics import TopicNames

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


class PartitionedTable:
    """A faust table behind the :class:`~processors.table.Table` port: every access is filed
    under the partition it names (the subject's), store and changelog alike.

    faust's rocksdb store files a write under the partition of the event being processed,
    and, for a table declared without ``use_partitioner``, reads that partition's store and
    sends each changelog write to it. The engine also writes from timers and for records read
    through a fence, and its keys (subject handles) hash to no particular partition, so each
    access here sets "the current event" to a stub of the partition named.
    """

    def __init__(self, table: Any, partitions: int) -> None:
        self.table = table
        # Strong references: the context variable only holds weak ones (made once, here).
        self._stubs = [_PartitionStub(p) for p in range(partitions)]
        self._refs: list[Any] = [weakref.ref(stub) for stub in self._stubs]

    # Each access sets and resets the context variable itself: a @contextmanager costs more
    # than the store lookup it wraps (a generator per access), and the worker makes several
    # accesses per user and batch.
    def get(self, partition: int, key: bytes) -> bytes | None:
        token = _current_event.set(self._refs[partition])
        try:
            # One store lookup: faust's Table.get() asks the store twice (contains, then get).
            store = self.table.data
            if isinstance(store, SerializedStore):
                found: bytes | None = store._get(key)
                return found
            value: bytes | None = self.table.get(key)
            return value
        finally:
            _current_event.reset(token)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        token = _current_event.set(self._refs[partition])
        try:
            self.table[key] = value
        finally:
            _current_event.reset(token)

    def delete(self, partition: int, key: bytes) -> None:
        token = _current_event.set(self._refs[partition])
        try:
            if key in self.table:
                del self.table[key]
        finally:
            _current_event.reset(token)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        # Lazy (a table may hold every user): callers list what they change, then change it.
        yield from self.table.items()


# faust opens one RocksDB per table and partition (4 x 6 here) with a 2 GiB block cache and
# three 64 MiB write buffers each: unbounded in practice. These bound each to about 24 MiB;
# the hot consent states are served from the engine's own cache anyway.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 8 * 1024 * 1024,
}


def _table(app: Any, settings: Settings, name: str, help_: str, **extra: Any) -> Any:
    # Without use_partitioner: the partition of every access is named (PartitionedTable).
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        use_partitioner=False,
        help=help_,
        options=ROCKSDB_OPTIONS if settings.worker_store.startswith("rocksdb") else None,
        **extra,
    )


def _subject_keys_changelog(app: Any, settings: Settings, names: TopicNames) -> Any:
    # The compacted topic privacy.subject-keys.v1 (DESIGN.md section 3), not the
    # <app>-<table>-changelog faust would name: the keyed subject handle -> the user's data
    # keys wrapped by the purpose keys; the erasure's delete writes the tombstone that shreds them.
    return app.topic(
        names.subject_keys,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        compacting=True,
        deleting=False,
        acks=False,
        internal=True,
        maxsize=131_072,
        allow_empty=True,
    )


_PT = PartitionedTable


@dataclass(frozen=True)
class WorkerTables:
    """The worker's faust tables, declared on one app by :func:`declare_tables`."""

    consent: Any
    held: Any
    held_events: Any
    erased: Any
    audit: Any
    audit_entries: Any
    subject_keys: Any
    partitions: int

    def every(self) -> tuple[Any, ...]:
        """Every table (their changelogs are the topics the producer must know)."""
        return (self.consent, self.held, self.erased, self.audit, self.held_events,
                self.audit_entries, self.subject_keys)

    def subject_keys_table(self) -> PartitionedTable:
        """The subject-keys table, each access filed under the partition it names."""
        return PartitionedTable(self.subject_keys, self.partitions)

    def store_tables(self) -> tuple[_PT, _PT, _PT, _PT, _PT, _PT]:
        """The six tables, each access filed under the partition it names.

        In :class:`~processors.store.Store`'s argument order.
        """
        n = self.partitions
        return (
            PartitionedTable(self.consent, n),
            PartitionedTable(self.held, n),
            PartitionedTable(self.erased, n),
            PartitionedTable(self.audit, n),
            PartitionedTable(self.held_events, n),
            PartitionedTable(self.audit_entries, n),
        )


def declare_tables(app: Any, settings: Settings, names: TopicNames) -> WorkerTables:
    """Declare the worker's tables on the faust ``app`` (their changelogs exist already:
    ``privacy-pipeline topics`` creates them)."""
    return WorkerTables(
        consent=_table(app, settings, "consent",
                       "Consent state per subject handle (history per purpose, objections)."),
        held=_table(app, settings, "held",
                    "Where each subject's events held in the grace window are (bounded index)."),
        held_events=_table(app, settings, "held_event",
                           "Events held in the grace window, one key each."),
        erased=_table(app, settings, "erased",
                      "Erasures per subject handle: pending ones and tombstones (time only)."),
        audit=_table(app, settings, "rights_audit",
                     "Rights audit index per subject handle (no raw id)."),
        audit_entries=_table(app, settings, "rights_audit_entry",
                             "Rights requests, one key each (no raw id)."),
        subject_keys=_table(
            app, settings, "subject_keys",
            "Subject keys per subject handle (wrapped by the purpose keys; no raw id).",
            changelog_topic=_subject_keys_changelog(app, settings, names)),
        partitions=settings.partitions,
    )
