"""Resource usage of child processes: CPU seconds and peak resident memory.

A child's CPU time comes from ``wait4(2)`` when it is reaped (exact, kernel-accounted). Its
memory comes from ``/proc/<pid>/status`` while it runs (``VmRSS`` now, ``VmHWM`` peak), sampled
by :class:`Sampler`: ``wait4``'s ``ru_maxrss`` cannot be used, Linux starts a forked child's
maximum at the parent's resident size, so a big parent would inflate every child's figure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.bench.exceptions import StageTimeout


@dataclass(frozen=True)
class Usage:
    """What a finished child consumed."""

    cpu_s: float
    """User + system CPU seconds."""
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


def thread_cpu_s(native_id: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU seconds of one thread of this process (0.0 once it is gone)."""
    try:
        text = (proc / "self" / "task" / str(native_id) / "stat").read_text()
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
            return Usage(usage.ru_utime + usage.ru_stime, code)
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


@dataclass
class Sampler:
    """Samples a running process's resident memory in a thread (see the module docstring)."""

    pid: int
    interval: float = 0.5
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, resident MiB)."""
    peak_mb: float = 0.0
    """Highest ``VmHWM`` seen: the peak resident set up to the last sample."""

    def __post_init__(self) -> None:
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> Memory | None:
        """Take one sample now (also call it just before stopping the process)."""
        mem = memory(self.pid)
        if mem is not None:
            self.samples.append((round(time.monotonic() - self._start, 1), round(mem.rss_mb, 1)))
            self.peak_mb = max(self.peak_mb, mem.peak_mb)
        return mem

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(timeout=5)
