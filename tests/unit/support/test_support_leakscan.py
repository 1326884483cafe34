"""The leak-scan helper finds planted identifiers and reports no false alarm."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.support.leakscan import scan, scan_bytes, scan_values


def _db(path: Path, rows: list[tuple[str, float, int]]) -> Path:
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE t (label VARCHAR, x DOUBLE, n BIGINT)")
    if rows:
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)  # tiny fixture, not the sink
    conn.execute("CREATE TABLE s (tags VARCHAR[])")
    conn.execute("INSERT INTO s VALUES (['a', 'b'])")
    conn.close()
    return path


def test_finds_strings_inside_values_and_numbers(tmp_path: Path) -> None:
    path = _db(tmp_path / "leaky.duckdb",
               [("screen of CTR-0000042-777 today", 48.8566137, 3), ("home", 1.5, 4)])
    hits = scan_values(path, ["CTR-0000042-777", "CTR-9"], [48.8566137, 2.35])
    assert {(h.where, h.kind, h.count) for h in hits} == {
        ("main.t.label", "string", 1), ("main.t.x", "number", 1)}


def test_finds_values_in_nested_columns(tmp_path: Path) -> None:
    path = _db(tmp_path / "nested.duckdb", [])
    conn = duckdb.connect(str(path))
    conn.execute("INSERT INTO s VALUES (['dev-00ff00ff00ff'])")
    conn.close()
    assert [h.where for h in scan_values(path, ["dev-00ff00ff00ff"])] == ["main.s.tags"]


def test_clean_file_has_no_hit(tmp_path: Path) -> None:
    path = _db(tmp_path / "clean.duckdb", [("home", 1.5, 4), ("contracts", 2.0, 5)])
    assert scan(path, ["CTR-0000042-777", "10.1.2.3"], [48.8566137]) == []


def test_byte_scan_sees_raw_text(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01header 10.20.30.40 trailer\x00" * 3)
    hits = scan_bytes(path, ["10.20.30.40", "10.20.30.41"])
    assert len(hits) == 1 and hits[0].count == 3


def test_finds_identifiers_inside_blobs(tmp_path: Path) -> None:
    path = tmp_path / "blobs.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE k (b BLOB)")
    conn.execute("INSERT INTO k VALUES ('\\x01\\x02ip=10.20.30.40;'::BLOB), ('\\x00\\x07'::BLOB)")
    conn.close()
    hits = scan_values(path, ["10.20.30.40"])
    assert [(h.where, h.count) for h in hits] == [("main.k.b", 1)]
