"""The broker's OS process: pid file, identity check, detached launch, termination.

A pid alone is not trusted (pids are reused): a pid counts as *our* broker only while the
process is alive, runs ``kafka.Kafka`` and was given this data dir's ``server.properties``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.private import PRIVATE_UMASK, open_private, write_private

_POLL_S = 0.1


def read_pid(pid_file: Path) -> int | None:
    """The pid stored in ``pid_file``, or None when absent or unreadable."""
    try:
        return int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    """Store ``pid`` atomically (a reader never sees a half-written file)."""
    write_private(pid_file, f"{pid}\n".encode())


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, i.e. exited but not yet reaped, does not count)."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    # Field 3 is the state; the command name before it may contain spaces, so split after ")".
    return stat.rpartition(")")[2].split()[0] != "Z"


def is_broker(pid: int, properties: Path) -> bool:
    """Whether ``pid`` is a live ``kafka.Kafka`` JVM started with ``properties``."""
    if not is_alive(pid):
        return False
    argv = _cmdline(pid)
    return argv is not None and "kafka.Kafka" in argv and str(properties) in argv


def launch(argv: Sequence[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached: own session, stdin closed, stdout+stderr appended to ``log``.

    Its own session keeps the broker alive when the terminal that ran the command closes
    and keeps Ctrl-C of a later command away from it. Its umask is 077 whatever the caller's:
    partition logs hold raw ids and must stay private to the pipeline's account.
    """
    with os.fdopen(open_private(log), "ab") as out:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=PRIVATE_UMASK,
        )


def terminate(pid: int, grace_s: float) -> bool:
    """SIGTERM ``pid``, wait up to ``grace_s`` for it to exit, then SIGKILL.

    Returns:
        True if it stopped on SIGTERM, False if it had to be killed.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_exit(pid, grace_s):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_exit(pid, 10.0)
    return False


def wait_exit(pid: int, timeout_s: float) -> bool:
    """Poll until ``pid`` is gone; True if it went within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _reap(pid: int) -> None:
    # When this very process started the broker (tests, `demo`), reap it so that an exited
    # broker does not linger as a zombie that still looks alive to kill(pid, 0).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
