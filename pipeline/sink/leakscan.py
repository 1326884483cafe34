"""Leak scan: look for raw identifiers in every value of a DuckDB file, and in its bytes.

Used by the tests (and available to operators) to check that neither ``pipeline.duckdb`` nor
``analytics.duckdb`` holds a user id, device id, ip, precise coordinate (or, for the analysts'
file, a pseudonym). A hit names the table and column, never the value found.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_CHUNK = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Hit:
    """Where a forbidden value was found (the value itself is never reported)."""

    where: str
    """``schema.table.column``, or ``bytes of <file>``."""
    kind: str
    """``string`` or ``number``."""
    count: int


def _columns(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    rows = conn.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return [(str(s), str(t), str(c), str(d)) for s, t, c, d in rows]


def _is_numeric(data_type: str) -> bool:
    return data_type.split("(")[0] in _NUMERIC


def scan_values(
    path: Path, strings: Iterable[str], numbers: Iterable[float] = (), tolerance: float = 1e-9
) -> list[Hit]:
    """Every column of every table: strings containing a forbidden string, numbers equal
    (within ``tolerance``, relative) to a forbidden number.

    Args:
        path: a DuckDB file (opened read-only).
        strings: forbidden substrings (empty ones are ignored).
        numbers: forbidden numbers (e.g. coordinates).
        tolerance: relative tolerance of the number comparison.
    """
    forbidden = pa.table({"s": pa.array(sorted({s for s in strings if s}), pa.string())})
    values = pa.table({"x": pa.array(sorted(set(numbers)), pa.float64())})
    conn = duckdb.connect(str(path), read_only=True)
    hits: list[Hit] = []
    try:
        conn.register("forbidden_strings", forbidden)
        conn.register("forbidden_numbers", values)
        for schema, table, column, data_type in _columns(conn):
            ref = f'"{schema}"."{table}"."{column}"'
            source = f'(SELECT DISTINCT "{column}" AS v FROM "{schema}"."{table}")'
            if _is_numeric(data_type):
                kind = "number"
                sql = (f"SELECT count(*) FROM {source} JOIN forbidden_numbers "
                       f"ON abs(CAST(v AS DOUBLE) - x) <= {tolerance!r} * greatest(1, abs(x))")
            else:
                kind = "string"
                sql = (f"SELECT count(*) FROM {source} JOIN forbidden_strings "
                       f"ON contains(CAST(v AS VARCHAR), s)")
            row = conn.execute(sql).fetchone()  # noqa: S608 - names come from the catalog
            if row and row[0]:
                hits.append(Hit(ref.replace('"', ""), kind, int(row[0])))
    finally:
        conn.close()
    return hits


def _count_in(data: bytes, needles: set[bytes], lengths: set[int]) -> int:
    # Values sit in printable runs: slide each needle length over those runs only.
    found = 0
    shortest = min(lengths)
    for match in re.finditer(rb"[\x20-\x7e]{%d,}" % shortest, data):
        run = match.group()
        for size in lengths:
            found += sum(1 for i in range(len(run) - size + 1) if run[i : i + size] in needles)
    return found


def scan_bytes(path: Path, strings: Iterable[str]) -> list[Hit]:
    """Raw bytes of the file and its WAL: catches values left in free or uncompressed pages.

    ``count`` is the number of places found (a value crossing two read chunks may count twice).
    """
    needles = {s.encode() for s in strings if s}
    if not needles:
        return []
    lengths = {len(n) for n in needles}
    overlap = max(lengths)
    hits: list[Hit] = []
    for file in (path, path.with_name(path.name + ".wal")):
        if not file.exists():
            continue
        found = 0
        with file.open("rb") as fh:
            tail = b""
            while chunk := fh.read(_CHUNK):
                found += _count_in(tail + chunk, needles, lengths)
                tail = chunk[-overlap:]
        if found:
            hits.append(Hit(f"bytes of {file.name}", "string", found))
    return hits


def scan(
    path: Path, strings: Iterable[str], numbers: Iterable[float] = (), tolerance: float = 1e-9
) -> list[Hit]:
    """:func:`scan_values` and :func:`scan_bytes` together; empty means no leak found."""
    strings = list(strings)
    numbers = list(numbers)
    # Coordinates could also hide in text: look for their decimal forms as strings too.
    texts = strings + [repr(x) for x in numbers]
    return scan_values(path, texts, numbers, tolerance) + scan_bytes(path, texts)
