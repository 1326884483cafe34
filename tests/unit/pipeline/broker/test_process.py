"""The broker's process identity: a pid is only ours when it runs kafka.Kafka with our config."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import broker
from pipeline.broker import config, process
from pipeline.settings import Settings


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not a broker."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_pid_file_roundtrip_and_garbage(tmp_path: Path) -> None:
    pid_file = tmp_path / "broker.pid"
    assert process.read_pid(pid_file) is None
    process.write_pid(pid_file, 4242)
    assert process.read_pid(pid_file) == 4242
    pid_file.write_text("not a pid")
    assert process.read_pid(pid_file) is None


def test_a_foreign_live_process_is_not_our_broker(
    stranger: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    assert process.is_alive(stranger.pid)
    assert not process.is_broker(stranger.pid, tmp_path / "server.properties")


def test_exited_child_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # Not waited for on purpose: is_alive must not count the zombie as running.
    assert process.wait_exit(proc.pid, 10.0)
    assert not process.is_alive(proc.pid)


def test_stop_never_signals_a_process_it_did_not_start(
    stranger: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {
            "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path),
        }
    )
    files = config.paths(settings)
    files.root.mkdir(parents=True)
    process.write_pid(files.pid_file, stranger.pid)  # e.g. a stale pid reused by the OS
    state = broker.stop(settings)
    assert state.pid is None and not state.running
    assert stranger.poll() is None, "stop signalled a foreign process"
    assert not files.pid_file.exists(), "the stale pid file should be removed"


def test_terminate_stops_a_process_on_sigterm(stranger: subprocess.Popen[bytes]) -> None:
    assert process.terminate(stranger.pid, grace_s=10.0)
    # It ended: wait() raises TimeoutExpired otherwise. (terminate() may already have reaped
    # it, so its exit status can read as 0: the status itself proves nothing.)
    stranger.wait(timeout=5)
