"""Publishing ``analytics.duckdb``: build a new file beside it, then rename it over the old one.

It goes to the analysts' directory (:mod:`pipeline.sink.target`), outside the data directory,
0600 (0640 when group-readable is asked); shard exports stay in the data directory.

Analysts open ``analytics.duckdb`` read-only at any moment: the path always names a complete,
checkpointed database (``os.replace`` is atomic on POSIX), and a connection opened before a
replacement keeps reading the snapshot it opened. Nothing but the tables of DESIGN.md section 8
is written: rows below the policy's k omitted (threshold mode) or the rows dp mode released
(:mod:`pipeline.sink.dprelease`), and the ``publication`` table that says which and why.

Sharded sinks (``--shard I/N``, N > 1) cannot read each other's databases (DuckDB holds a
writer's file locked), so each shard also exports its partials to
``sink-shard-<I>-of-<N>.duckdb`` (atomically, the same way) and every publication merges the
exports of all shards.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.policy.publication import Publication
from pipeline.private import FILE_MODE
from pipeline.sink.config import ShardSpec
from pipeline.sink.dprelease import COLUMNS as DP_COLUMNS
from pipeline.sink.exceptions import DpShardingError, PublishError, StateLocked
from pipeline.sink.published import (
    TABLES,
    PublishedTable,
    merged_sql,
    read_partials,
    released_sql,
    summed_sql,
    withheld_sql,
)
from pipeline.sink.pubtable import TableOutcome, publication_table
from pipeline.sink.schema import open_state_readonly
from pipeline.sink.target import AnalyticsTarget

log = logging.getLogger(__name__)

Partials = Mapping[str, pa.Table]


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def replace_atomically(
    dest: Path, tag: str, build: Callable[[duckdb.DuckDBPyConnection], None],
    mode: int = FILE_MODE,
) -> None:
    """Build a DuckDB file with ``build`` beside ``dest``, then rename it over ``dest``.

    Args:
        dest: the file to (re)place.
        tag: unique among concurrent writers of ``dest`` (names the temporary file).
        build: fills the new database.
        mode: permissions of the published file (set before it appears under ``dest``).

    Raises:
        PublishError: the new file could not be completed; ``dest`` is left as it was.
    """
    tmp = dest.with_name(f"{dest.name}.tmp-{tag}")
    _remove(tmp)
    try:
        conn = duckdb.connect(str(tmp))
        try:
            build(conn)
            conn.execute("CHECKPOINT")
        finally:
            conn.close()
        if tmp.with_name(tmp.name + ".wal").exists():
            raise PublishError(f"{tmp.name} kept a write-ahead log after checkpoint; not published")
        os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent, directory=True)
    except (duckdb.Error, OSError) as exc:
        raise PublishError(f"could not write {dest.name}: {exc}; the previous one is kept") from exc
    finally:
        _remove(tmp)


def remove_stale_temporaries(directory: Path, tag_prefix: str) -> None:
    """Delete temporary files a killed publisher with tags starting ``tag_prefix`` left."""
    for path in directory.glob(f"*.duckdb.tmp-{tag_prefix}*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_export(partials: Partials, path: Path, tag: str) -> None:
    """Write one shard's partials to ``path`` (atomically)."""

    def build(conn: duckdb.DuckDBPyConnection) -> None:
        for name, table in partials.items():
            conn.register("partial", table)
            conn.execute(f"CREATE TABLE {name} AS SELECT * FROM partial")  # noqa: S608
            conn.unregister("partial")

    replace_atomically(path, tag, build)


def _threshold(
    conn: duckdb.DuckDBPyConnection, table: PublishedTable, sources: list[str], k: int
) -> TableOutcome:
    conn.execute(summed_sql(table, sources, k))
    conn.execute(merged_sql(table, k))
    (row,) = conn.execute(withheld_sql(table, k)).fetchall()
    withheld, merged, published = (int(v) for v in row)
    return TableOutcome(table.name, published, withheld, merged)


def _released(
    conn: duckdb.DuckDBPyConnection, table: PublishedTable, partials: Partials
) -> TableOutcome:
    conn.register("dp_source", partials[f"dp_released_{table.name}"])
    conn.execute(released_sql(table, "dp_source", DP_COLUMNS[table.name]))
    conn.unregister("dp_source")
    ledger = partials["dp_ledger"].to_pylist()
    days = [r["day"] for r in ledger if r["tbl"] == table.name]
    ((count,),) = conn.execute(f"SELECT count(*) FROM {table.name}").fetchall()  # noqa: S608
    return TableOutcome(table.name, int(count),
                        released_through=max(days) if days else None)


def write_analytics(
    data_dir: Path, k: int, tag: str, partials: Partials | None = None,
    exports: list[Path] | None = None, publication: Publication | None = None,
    analytics: AnalyticsTarget | None = None,
) -> None:
    """Merge partials (in memory and/or exported by shards), threshold, publish atomically.

    Args:
        data_dir: the pipeline's data directory (default analysts' directory beside it).
        k: rows with fewer distinct users are omitted.
        tag: names the temporary file (unique per writer).
        partials: one shard's partials held in memory.
        exports: shard export files to merge.
        publication: the policy's per-table modes (``None``: every table threshold).
        analytics: where ``analytics.duckdb`` goes (default: beside ``data_dir``).

    Raises:
        DpShardingError: a dp table with shard exports (dp needs the whole data in one sink).
    """
    files = list(exports or [])
    pub = publication or Publication()
    if pub.dp and (files or partials is None):
        raise DpShardingError("dp publication needs a single sink shard (--shard 0/1)")
    now = datetime.now(UTC).replace(tzinfo=None)

    def build(conn: duckdb.DuckDBPyConnection) -> None:
        aliases = []
        for i, path in enumerate(files):
            quoted = str(path).replace("'", "''")
            conn.execute(f"ATTACH '{quoted}' AS shard{i} (READ_ONLY)")
            aliases.append(f"shard{i}")
        outcomes = []
        for table in TABLES:
            if partials is not None and table.name in pub.dp:
                outcomes.append(_released(conn, table, partials))
                continue
            sources = [f"{a}.{table.name}" for a in aliases]
            if partials is not None:
                conn.register(f"mem_{table.name}", partials[table.name])
                sources.append(f"mem_{table.name}")
            outcomes.append(_threshold(conn, table, sources, k))
        conn.register("pub_rows", publication_table(outcomes, pub, k, now))
        conn.execute("CREATE TABLE publication AS SELECT * FROM pub_rows")
        conn.unregister("pub_rows")
        for alias in aliases:
            conn.execute(f"DETACH {alias}")

    if partials is None and not files:
        raise PublishError("nothing to publish: no shard database or export found")
    target = analytics or AnalyticsTarget.beside(data_dir)
    target.prepare()
    replace_atomically(target.path, tag, build, target.file_mode)


def shard_exports(data_dir: Path, count: int) -> list[Path]:
    """Export files of the shards of a ``count``-way sink that exist now."""
    paths = [data_dir / ShardSpec(i, count).export_name for i in range(count)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        log.warning("publishing without shards not exported yet: %s", ", ".join(missing))
    return [p for p in paths if p.exists()]


def publish_from_shard(
    conn: duckdb.DuckDBPyConnection, data_dir: Path, shard: ShardSpec, k: int,
    publication: Publication | None = None, analytics: AnalyticsTarget | None = None,
) -> None:
    """What a running shard does every publish interval and at exit."""
    partials = read_partials(conn)
    tag = f"{shard.index}-{os.getpid()}"
    if shard.count == 1:
        write_analytics(data_dir, k, tag, partials=partials, publication=publication,
                        analytics=analytics)
        return
    write_export(partials, data_dir / shard.export_name, tag)
    write_analytics(data_dir, k, tag, exports=shard_exports(data_dir, shard.count),
                    analytics=analytics)


def publish_offline(
    data_dir: Path, count: int, k: int, publication: Publication | None = None,
    analytics: AnalyticsTarget | None = None,
) -> None:
    """``sink publish``: refresh exports of stopped shards, merge all, publish now.

    Raises:
        StateLocked: single shard and its sink is running (it publishes by itself).
        PublishError: nothing to publish.
    """
    tag = f"publish-{os.getpid()}"
    partials: Partials | None = None
    for i in range(count):
        shard = ShardSpec(i, count)
        path = data_dir / shard.db_name
        if not path.exists():
            continue
        try:
            conn = open_state_readonly(path)
        except duckdb.IOException:
            if count == 1:
                raise StateLocked(
                    f"{path.name} is held by a running sink, which republishes "
                    "analytics.duckdb by itself every publish interval; nothing to do"
                ) from None
            log.info("shard %s is running: using its last export", shard)
            continue
        try:
            shard_partials = read_partials(conn)
        finally:
            conn.close()
        if count == 1:
            partials = shard_partials
        else:
            write_export(shard_partials, data_dir / shard.export_name, tag)
    exports = shard_exports(data_dir, count) if count > 1 else []
    write_analytics(data_dir, k, tag, partials=partials, exports=exports,
                    publication=publication, analytics=analytics)
