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


def _text_values(conn: duckdb.DuckDBPyConnection, source: str, blob: bool) -> bytes:
    """Distinct values of a column as bytes, NUL-separated (BLOBs raw, others as text)."""
    expr = "v" if blob else "CAST(v AS VARCHAR)"
    rows = conn.execute(f"SELECT DISTINCT {expr} FROM {source} WHERE v IS NOT NULL").fetchall()  # noqa: S608
    return b"\x00".join(r[0] if blob else str(r[0]).encode() for r in rows)


def scan_values(
    path: Path, strings: Iterable[str], numbers: Iterable[float] = (), tolerance: float = 1e-9
) -> list[Hit]:
    """Every column of every table: values containing a forbidden string (BLOBs as bytes,
    other types as text: lists, structs...), numbers equal (within ``tolerance``, relative)
    to a forbidden number.

    Args:
        path: a DuckDB file (opened read-only).
        strings: forbidden substrings (empty ones are ignored).
        numbers: forbidden numbers (e.g. coordinates).
        tolerance: relative tolerance of the number comparison.
    """
    needles = {s.encode() for s in strings if s}
    lengths = {len(n) for n in needles}
    values = pa.table({"x": pa.array(sorted(set(numbers)), pa.float64())})
    conn = duckdb.connect(str(path), read_only=True)
    hits: list[Hit] = []
    try:
        conn.register("forbidden_numbers", values)
        for schema, table, column, data_type in _columns(conn):
            where = f"{schema}.{table}.{column}"
            source = f'(SELECT "{column}" AS v FROM "{schema}"."{table}")'  # noqa: S608
            if _is_numeric(data_type):
                row = conn.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT v FROM {source}) "  # noqa: S608
                    f"JOIN forbidden_numbers "
                    f"ON abs(CAST(v AS DOUBLE) - x) <= {tolerance!r} * greatest(1, abs(x))"
                ).fetchone()
                found, kind = (0 if row is None else int(row[0])), "number"
            else:
                text = _text_values(conn, source, data_type == "BLOB")
                found = _count_in(text, needles, lengths) if needles else 0
                kind = "string"
            if found:
                hits.append(Hit(where, kind, found))
    finally:
        conn.close()
    return hits


def _count_in(data: bytes, needles: set[bytes], lengths: set[int]) -> int:
    # Identifiers are printable: slide each needle length over printable runs only (random
    # bytes such as hashes rarely form runs long enough to be looked at).
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
