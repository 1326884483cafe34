"""Message values -> typed Arrow columns, with msgspec (a few hundred ns per record).

A value is one JSON record or ``{"records": [...]}`` (ARCHITECTURE.md, "Records from
processors to the sink"). Only the fields the sink aggregates are decoded; everything else
(``enc`` tokens, ``pseudo``, ``type``, ``reason``...) is skipped unread. A value that is not
valid JSON of that shape is counted as rejected, never guessed. Checks that need the whole
row (missing fields, bad times) happen in SQL (:mod:`pipeline.sink.staging`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
import pyarrow as pa
from msgspec.structs import astuple

UNDECODABLE = "undecodable message"


class Sanitized(msgspec.Struct, gc=False):
    """The fields of a ``sanitized.<purpose>.v1`` record the sink reads (or a batch of them)."""

    event_id: str | None = None
    stream: str | None = None
    hour: str | None = None
    pseudonym: str | None = None
    anonymous: bool | None = None
    app: str | None = None
    platform: str | None = None
    screen: str | None = None
    campaign: str | None = None
    cell: str | None = None
    records: list[Sanitized] | None = None


class Decision(msgspec.Struct, gc=False):
    """The fields of a ``pipeline.decisions.v1`` record the sink reads (or a batch of them)."""

    kind: str | None = None
    event_id: str | None = None
    stream: str | None = None
    day: str | None = None
    outcomes: dict[str, str] | None = None
    purpose: str | None = None
    transition: str | None = None
    subject: str | None = None
    source: str | None = None
    records: list[Decision] | None = None


_SANITIZED = msgspec.json.Decoder(Sanitized)
_DECISION = msgspec.json.Decoder(Decision)
_S_FIELDS = Sanitized.__struct_fields__[:-1]
_D_FIELDS = Decision.__struct_fields__[:-1]
_S_TYPES = {"anonymous": pa.bool_()}
_D_TYPES = {"outcomes": pa.map_(pa.string(), pa.string())}


@contextmanager
def _no_gc() -> Iterator[None]:
    # Many short-lived tuples: the cyclic collector would rescan them over and over (10x
    # slower); reference counting frees everything anyway.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _records(decoder: Any, value: bytes) -> Sequence[Any] | None:
    try:
        message = decoder.decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return message.records if message.records is not None else (message,)


def _columns(rows: list[tuple[Any, ...]], fields: Sequence[str],
             types: dict[str, pa.DataType]) -> dict[str, pa.Array]:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(fields) + 1)]
    return {name: pa.array(columns[i], types.get(name, pa.string()))
            for i, name in enumerate(fields)}


def decode_sanitized(
    values: Sequence[bytes], topics: Sequence[str], purposes: Sequence[str]
) -> tuple[pa.Table, dict[str, int]]:
    """Sanitized messages -> one row per record, with its topic and purpose.

    Returns:
        The table (``topic``, ``purpose`` and the :class:`Sanitized` fields) and the number of
        undecodable messages per topic.
    """
    rows: list[tuple[Any, ...]] = []
    row_topics: list[str] = []
    row_purposes: list[str] = []
    rejected: dict[str, int] = {}
    with _no_gc():
        for value, topic, purpose in zip(values, topics, purposes, strict=True):
            records = _records(_SANITIZED, value)
            if records is None:
                rejected[topic] = rejected.get(topic, 0) + 1
                continue
            rows.extend(astuple(r) for r in records)
            row_topics.extend([topic] * len(records))
            row_purposes.extend([purpose] * len(records))
        columns = {"topic": pa.array(row_topics, pa.string()),
                   "purpose": pa.array(row_purposes, pa.string()),
                   **_columns(rows, _S_FIELDS, _S_TYPES)}
    return pa.table(columns), rejected


def decode_decisions(values: Sequence[bytes]) -> tuple[pa.Table, int]:
    """Decision messages -> one row per record; returns the table and undecodable messages."""
    rows: list[tuple[Any, ...]] = []
    rejected = 0
    with _no_gc():
        for value in values:
            records = _records(_DECISION, value)
            if records is None:
                rejected += 1
                continue
            rows.extend(astuple(r) for r in records)
        columns = _columns(rows, _D_FIELDS, _D_TYPES)
    return pa.table(columns), rejected
