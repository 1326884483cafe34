"""Resource usage of child processes: CPU seconds and peak resident memory.

A child's totals come from ``wait4(2)`` when it is reaped (exact, kernel-accounted); while it
runs, ``/proc/<pid>/status`` gives its current and peak resident set (Linux).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.bench.exceptions import StageTimeout


@dataclass(frozen=True)
class Usage:
    """What a finished child consumed."""

    cpu_s: float
    """User + system CPU seconds."""
    peak_rss_mb: float
    """Peak resident set size (``ru_maxrss``), MiB."""
    returncode: int


@dataclass(frozen=True)
class Memory:
    """Resident memory of a running process, MiB."""

    rss_mb: float
    peak_mb: float


def memory(pid: int, proc: Path = Path("/proc")) -> Memory | None:
    """Current (``VmRSS``) and peak (``VmHWM``) resident memory of ``pid``; None if gone."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    if "VmRSS" not in values:
        return None
    return Memory(values["VmRSS"], values.get("VmHWM", values["VmRSS"]))


def reap(process: subprocess.Popen[bytes], timeout: float) -> Usage:
    """Wait for ``process`` to exit (at most ``timeout`` s) and return what it consumed.

    Raises:
        StageTimeout: it is still running after ``timeout`` seconds (it is left running).
    """
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            code = os.waitstatus_to_exitcode(status)
            process.returncode = code  # reaped here: Popen must not wait for it again
            # ru_maxrss is in KiB on Linux.
            return Usage(usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)
        if time.monotonic() >= deadline:
            raise StageTimeout(f"process {process.pid} did not exit within {timeout:.0f} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> Usage:
    """SIGTERM the process group of ``process``, SIGKILL it after ``timeout``; its usage.

    The process must have been started with ``start_new_session=True``.
    """
    if process.returncode is not None:
        raise StageTimeout(f"process {process.pid} was already reaped")
    _signal_group(process.pid, signal.SIGTERM)
    try:
        return reap(process, timeout)
    except StageTimeout:
        _signal_group(process.pid, signal.SIGKILL)
        return reap(process, 10.0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: reap() collects it
        os.killpg(pid, sig)
