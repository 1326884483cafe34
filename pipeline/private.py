"""Files the pipeline writes are private to its owner: umask 077, 0700 directories.

The data directory holds raw ids (Kafka logs, worker tables), wrapped keys and the master key;
nobody but the account running the pipeline may read it, whatever umask the operator's shell
has. Every process entry point calls :func:`restrict_umask` first, so files created later by
any library (RocksDB, DuckDB, the Kafka JVM it launches) are 0600 and directories 0700;
directories the pipeline creates go through :func:`private_dir`, which also tightens an
existing one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
"""Group and others get no bit of anything created."""
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> int:
    """Add group/other bits to the process umask (never loosen a stricter one).

    Returns:
        The umask in force before.
    """
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)
    return old


def private_dir(path: Path, mode: int = DIR_MODE) -> Path:
    """Create ``path`` (and missing parents) with ``mode``; tighten it if it exists looser.

    Parents created here get ``mode`` too; existing parents are left alone (they may be
    shared, e.g. ``/var/lib``). A directory owned by another account is not changed.
    """
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created concurrently: tightened below
            directory.mkdir(mode=mode)
    tighten(path, mode)
    for directory in missing[1:]:
        tighten(directory, mode)
    return path


def tighten(path: Path, mode: int) -> None:
    """Remove from ``path`` every permission bit ``mode`` does not grant (own files only)."""
    st = path.stat()
    if st.st_uid != os.geteuid():
        return
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode:
        os.chmod(path, current & mode)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """``os.open`` a file created 0600 (an existing file is tightened to 0600)."""
    fd = os.open(path, flags, FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & ~FILE_MODE:
        os.fchmod(fd, FILE_MODE)
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` through a 0600 temporary file (readers see old or new)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)
