"""The demo's process handling without Kafka: groups stopped, deaths reported, signals kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.demo.children import Children, Signals
from pipeline.demo.exceptions import DemoError, Interrupted

PY = (sys.executable, "-c")
#: Starts a grandchild in the same process group, prints its pid, then waits.
WITH_GRANDCHILD = (
    "import subprocess, sys, time;"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    "print(p.pid, flush=True); time.sleep(120)"
)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _children(tmp_path: Path) -> Children:
    return Children(tmp_path / "logs", os.environ, Signals(), command=PY)


def _first_line(path: Path, within: float = 10.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        time.sleep(0.05)
    raise AssertionError(f"{path} stayed empty")


def test_stop_all_stops_the_child_and_its_process_group(tmp_path: Path) -> None:
    children = _children(tmp_path)
    child = children.start("worker-1", WITH_GRANDCHILD)
    grandchild = int(_first_line(child.log))
    assert os.getpgid(child.proc.pid) == child.proc.pid != os.getpgid(0)  # own group
    children.stop_all(grace_s=5)
    assert child.proc.returncode is not None
    assert _gone(grandchild)


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    children = _children(tmp_path)
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                "print('ready', flush=True); time.sleep(120)")
    child = children.start("stubborn", stubborn)
    _first_line(child.log)
    began = time.monotonic()
    children.stop_all(grace_s=0.5)
    assert child.proc.returncode == -signal.SIGKILL
    assert time.monotonic() - began < 10


def test_an_unexpected_exit_names_the_child_its_status_and_last_log_line(tmp_path: Path) -> None:
    children = _children(tmp_path)
    child = children.start("sink", "import sys; print('first'); print('boom: disk full'); "
                           "sys.exit(3)")
    child.proc.wait(timeout=10)
    with pytest.raises(DemoError, match=r"sink exited with status 3: boom: disk full \(log: "):
        children.check()
    children.terminate(child)  # asked to stop: no longer an error
    children.check()
    children.stop_all(grace_s=1)


def test_finished_is_bounded(tmp_path: Path) -> None:
    children = _children(tmp_path)
    slow = children.start("slow", "import time; time.sleep(120)")
    with pytest.raises(DemoError, match="slow did not finish in time"):
        children.finished(slow, time.monotonic() + 0.3, "or raise --timeout")
    quick = children.start("quick", "pass")
    children.finished(quick, time.monotonic() + 10, "")
    children.stop_all(grace_s=2)


def test_children_die_with_the_demo_even_on_sigkill(tmp_path: Path) -> None:
    # The demo process itself vanishes without cleanup: the kernel stops its children.
    script = (
        "import os, sys; from pathlib import Path;"
        "from pipeline.demo.children import Children, Signals;"
        f"c = Children(Path({str(tmp_path)!r}), os.environ, Signals(), command={PY!r});"
        "child = c.start('orphan', 'import time; time.sleep(120)');"
        "print(child.proc.pid, flush=True); os.kill(os.getpid(), 9)"
    )
    out = subprocess.run([*PY, script], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == -signal.SIGKILL
    assert _gone(int(out.stdout.strip()))


def test_signals_raise_interrupted_and_are_raised_again_when_swallowed() -> None:
    signals = Signals()
    before = signal.getsignal(signal.SIGTERM)
    signals.install()
    try:
        with pytest.raises(Interrupted) as first:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert first.value.signum == signal.SIGTERM
        # Had a library swallowed it, the demo's next check raises it again.
        with pytest.raises(Interrupted):
            signals.check()
    finally:
        signals.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_sigint_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        signals = Signals()
        signals.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signals.restore()
    finally:
        signal.signal(signal.SIGINT, previous)
