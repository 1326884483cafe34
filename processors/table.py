"""The port the worker's state goes through: a key-value table whose every access names its
partition.

Keys are keyed subject handles (:mod:`processors.subject`), whose hash says nothing of the
user's partition, so the partition cannot be derived from the key: each read, write and delete
names it (the user's input partition), and the worker files the key, store and changelog
alike, there. :mod:`processors.worker.tables` adapts faust's tables to this port;
:class:`MemoryTable` is the dict-backed one unit tests use (it also records where each key was
filed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, MutableMapping
from typing import Protocol, TypeVar

from processors.subject import Subject

HANDLE = re.compile(rb"[0-9a-f]{32}")
"""What a subject handle key looks like (keys of another form were written before handles)."""


def is_handle(key: bytes) -> bool:
    """Whether ``key`` is a subject handle (not a key written before handles were used)."""
    return HANDLE.fullmatch(key) is not None


class Table(Protocol):
    """A changelogged table of bytes keyed by bytes; every access names the partition."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value of ``key`` in ``partition`` (None: absent)."""
        ...

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Write ``key`` in ``partition`` (store and changelog)."""
        ...

    def delete(self, partition: int, key: bytes) -> None:
        """Delete ``key`` from ``partition`` (a changelog tombstone); absent: nothing."""
        ...

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value held for the partitions this worker has (recovery only)."""
        ...


class MemoryTable:
    """A :class:`Table` over a plain mapping (unit tests): remembers each key's partition."""

    def __init__(self, data: MutableMapping[bytes, bytes] | None = None) -> None:
        self.data: MutableMapping[bytes, bytes] = {} if data is None else data
        self.partitions: dict[bytes, int] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.data[key] = value
        self.partitions[key] = partition

    def delete(self, partition: int, key: bytes) -> None:
        if key in self.data:
            del self.data[key]
        self.partitions.pop(key, None)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        yield from list(self.data.items())


class Homed(Protocol):
    """A table value that names the partition its subject's keys are filed under."""

    @property
    def home(self) -> int: ...


H = TypeVar("H", bound=Homed)


def homed(table: Table, decode: Callable[[bytes], H]) -> Iterator[tuple[Subject, H]]:
    """Every handle-keyed value of ``table`` with its subject (recovery has no raw id, so
    the value names the partition). Keys written before handles (raw ids) are skipped:
    nothing reads them any more."""
    for key, raw in table.scan():
        if raw is None or not is_handle(key):
            continue
        value = decode(raw)
        if value.home >= 0:
            yield Subject(key, value.home), value


def as_table(table: Table | MutableMapping[bytes, bytes] | None) -> Table:
    """``table`` itself, or a :class:`MemoryTable` over a mapping (or a new dict)."""
    if table is None or isinstance(table, MutableMapping):
        return MemoryTable(table)
    return table
