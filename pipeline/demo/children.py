"""The demo's child processes, its signal handling, and bounded stopping.

Each child runs in its own session (process group): Ctrl-C in the terminal reaches only the
demo, which then signals exactly the groups it started. A child also gets SIGTERM from the
kernel if the demo dies without cleaning up (``PR_SET_PDEATHSIG``), so not even ``kill -9``
of the demo leaves workers behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from pipeline.demo.exceptions import DemoError, Interrupted
from pipeline.private import open_private, private_dir

CLI = (sys.executable, "-m", "pipeline.cli")
_WAIT_STEP_S = 0.2


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Signals:
    """SIGINT and SIGTERM raise :class:`Interrupted` and are remembered.

    Kafka clients run callbacks under ``except BaseException`` and may swallow the first
    raise; :meth:`check`, called at every step and poll of the demo, raises it again.
    A signal the demo was started with ignored (a background job's SIGINT) stays ignored.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        raise Interrupted(signum)

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        """Give the signals back their previous handlers."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal arrived (even if a library swallowed it)."""
        if self.received is not None:
            raise Interrupted(self.received)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Ignore SIGINT and SIGTERM while cleaning up: a second Ctrl-C cannot leave processes
        behind (cleanup is bounded: SIGKILL after a grace period)."""
        saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)


@dataclasses.dataclass
class Child:
    """One process the demo started."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    out: IO[bytes]
    stopping: bool = False


def last_line(log: Path) -> str:
    """The last non-empty line of a log (at most 300 characters), for error messages."""
    with contextlib.suppress(OSError):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1].strip()[:300]
    return "no output"


class Children:
    """Processes started by the demo, and only those."""

    def __init__(
        self, logs: Path, env: Mapping[str, str], signals: Signals, command: Sequence[str] = CLI
    ) -> None:
        self.logs = logs
        self.env = dict(env)
        self.signals = signals
        self.command = tuple(command)
        self.started: list[Child] = []

    def start(self, name: str, *args: str) -> Child:
        """Start ``<command> ARGS`` (``privacy-pipeline ARGS``), output appended to
        ``<logs>/<name>.log``."""
        private_dir(self.logs)
        log = self.logs / f"{name}.log"
        out = os.fdopen(open_private(log), "ab")
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [*self.command, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=self.env, start_new_session=True, preexec_fn=_die_with_parent,
        )
        self.started.append(Child(name, proc, log, out))
        return self.started[-1]

    def check(self) -> None:
        """Raise if a child exited that the demo did not ask to stop, or a signal arrived."""
        self.signals.check()
        for c in self.started:
            code = c.proc.poll()
            if code is not None and not c.stopping:
                raise DemoError(f"{c.name} exited with status {code}: {last_line(c.log)} "
                                f"(log: {c.log})")

    def finished(self, child: Child, deadline: float, hint: str) -> None:
        """Wait until ``child`` exits by itself with status 0, at most until ``deadline``."""
        while child.proc.poll() is None:
            self.signals.check()
            if time.monotonic() >= deadline:
                raise DemoError(f"{child.name} did not finish in time; see {child.log} {hint}")
            time.sleep(_WAIT_STEP_S)
        if child.proc.returncode != 0:
            raise DemoError(f"{child.name} exited with status {child.proc.returncode}: "
                            f"{last_line(child.log)} (log: {child.log})")

    def terminate(self, child: Child) -> None:
        """SIGTERM the child's process group (the child and anything it started)."""
        child.stopping = True
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)

    def stop_all(self, grace_s: float) -> None:
        """Stop every child (SIGTERM, then SIGKILL of its group after ``grace_s``); reap all."""
        for c in self.started:
            self.terminate(c)
        deadline = time.monotonic() + grace_s
        for c in self.started:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGKILL)
                c.proc.wait(timeout=10)
            c.out.close()
