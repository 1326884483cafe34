"""Message values -> typed Arrow columns, with msgspec (a few hundred ns per record).

A value is one JSON record or ``{"records": [...]}`` (ARCHITECTURE.md, "Records from
processors to the sink"), decoded with the types the processors encode
(:mod:`schemas.records`); only the fields the sink aggregates become columns. A value that is not
valid JSON of that shape is counted as rejected, never guessed. Checks that need the whole
row (missing fields, bad times) happen in SQL (:mod:`pipeline.sink.staging`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import msgspec
import pyarrow as pa

from schemas.records import DecisionMessage, SanitizedMessage

UNDECODABLE = "undecodable message"


_SANITIZED = msgspec.json.Decoder(SanitizedMessage)
_DECISION = msgspec.json.Decoder(DecisionMessage)
# The fields the sink aggregates, in column order (the rest is decoded and dropped).
_S_FIELDS = ("event_id", "stream", "hour", "pseudonym", "anonymous", "app", "platform",
             "screen", "campaign", "cell")
_D_FIELDS = ("kind", "event_id", "stream", "day", "outcomes", "purpose", "transition",
             "subject", "source")
_S_ROW = attrgetter(*_S_FIELDS)
_D_ROW = attrgetter(*_D_FIELDS)
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
        The table (``topic``, ``purpose`` and the ``_S_FIELDS`` of each record) and the number of
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
            rows.extend(map(_S_ROW, records))
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
            rows.extend(map(_D_ROW, records))
        columns = _columns(rows, _D_FIELDS, _D_TYPES)
    return pa.table(columns), rejected
