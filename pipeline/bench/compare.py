"""The sink's aggregates against the simulator's ground truth (DESIGN.md section 8).

Both sides are brought to one shape, ``table -> {key: counts}``: keys are the window (ISO
strings: ``2026-11-26T10:00:00Z`` for hours, ``2026-11-26`` for days) then the dimensions
(``None`` when missing), counts are the table's published count columns in DESIGN order.
The sink's *partials* (its rows before the k-threshold) must equal the truth exactly; every
row of ``analytics.duckdb`` must equal its truth row, and every truth row with at least k
distinct users must be published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.sink.published import TABLES, PublishedTable, read_partials
from pipeline.sink.schema import open_state_readonly

Rows = dict[tuple[Any, ...], tuple[int, ...]]
Tables = dict[str, Rows]

#: The distinct-user column that decides publication, for the tables whose truth has it.
_DISTINCT = {"navigation_hourly": "visitors", "navigation_daily": "visitors",
             "geolocation_hourly": "users", "campaign_daily": "visitors"}


def _counts(table: PublishedTable) -> tuple[str, ...]:
    return tuple(name for name, sql_type in table.columns if sql_type == "BIGINT")


def _iso(value: Any, window: str) -> Any:
    if isinstance(value, datetime):
        if window == "hour":
            return value.strftime("%Y-%m-%dT%H:00:00Z")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None if value == "" else value


def _shape(table: PublishedTable, rows: Iterable[Mapping[str, Any]]) -> Rows:
    window = table.keys[0]
    out: Rows = {}
    for row in rows:
        key = tuple(_iso(row[k], window) for k in table.keys)
        out[key] = tuple(int(row[c]) for c in _counts(table))
    return out


def _modelled(table: str, key: tuple[Any, ...]) -> bool:
    """Whether the oracle models this row: it has no decisions about consent messages
    themselves (``processing_daily`` rows of the consent stream other than ``invalid``)."""
    return not (table == "processing_daily" and key[1] == "consent" and key[3] != "invalid")


def from_truth(tables: Mapping[str, list[dict[str, Any]]]) -> Tables:
    """The truth document's ``tables`` in the common shape."""
    return {t.name: _shape(t, tables.get(t.name, [])) for t in TABLES}


def _filtered(tables: Tables) -> Tables:
    return {name: {k: v for k, v in rows.items() if _modelled(name, k)}
            for name, rows in tables.items()}


def read_partials_at(data_dir: Path, db_name: str = "pipeline.duckdb") -> Tables:
    """A stopped sink's rows before the threshold (consent-message processing rows left out)."""
    conn = open_state_readonly(data_dir / db_name)
    try:
        partials = read_partials(conn)
    finally:
        conn.close()
    return _filtered({t.name: _shape(t, partials[t.name].to_pylist()) for t in TABLES})


def read_published(path: Path) -> Tables:
    """The rows of ``analytics.duckdb`` at ``path`` (what analysts see)."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        out: Tables = {}
        for t in TABLES:
            cursor = conn.execute(f"SELECT * FROM {t.name}")  # noqa: S608 - constant names
            names = [d[0] for d in cursor.description]
            out[t.name] = _shape(t, (dict(zip(names, r, strict=True)) for r in cursor.fetchall()))
        return _filtered(out)
    finally:
        conn.close()


def merge(*parts: Tables) -> Tables:
    """Sum tables of disjoint user populations (distinct counts add up when users differ)."""
    out: Tables = {t.name: {} for t in TABLES}
    for part in parts:
        for name, rows in part.items():
            for key, counts in rows.items():
                old = out[name].get(key)
                out[name][key] = counts if old is None else tuple(
                    a + b for a, b in zip(old, counts, strict=True))
    return out


def differences(expected: Tables, actual: Tables, limit: int = 8) -> list[str]:
    """Human-readable differences, at most ``limit`` per table (empty: equal)."""
    out: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name, {}), actual.get(name, {})
        bad = [k for k in sorted(set(want) | set(got), key=repr) if want.get(k) != got.get(k)]
        out += [f"{name} {k}: expected {want.get(k)}, got {got.get(k)}" for k in bad[:limit]]
        if len(bad) > limit:
            out.append(f"{name}: {len(bad) - limit} more differing rows")
    return out


def publication_differences(expected: Tables, published: Tables, k: int) -> list[str]:
    """Published rows that differ from the truth, and truth rows with >= k users missing."""
    out: list[str] = []
    for t in TABLES:
        want, got = expected.get(t.name, {}), published.get(t.name, {})
        out += [f"{t.name} {key}: published {counts}, truth {want.get(key)}"
                for key, counts in got.items() if want.get(key) != counts]
        column = _DISTINCT.get(t.name)
        if column is not None:
            index = _counts(t).index(column)
            out += [f"{t.name} {key}: {counts[index]} distinct users >= k={k} but not published"
                    for key, counts in want.items() if counts[index] >= k and key not in got]
    return out
