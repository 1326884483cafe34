"""A private broker from cold: start, idempotent start, status, stop; and start failures.

Runs its own short-lived broker on free ports with a temporary data dir, so the suite's broker
is never touched. The jars come from the cache that ``make setup`` filled.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest
from kafka.admin import NewTopic

from pipeline import broker
from pipeline.broker import config, process
from pipeline.broker.exceptions import BrokerStartFailed, PortInUse
from pipeline.kafka import make_admin, make_producer
from pipeline.settings import Settings
from tests.integration.modes import count_entries, exposed


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free right now."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port >= 65534:
            continue
        with socket.socket() as nxt:
            try:
                nxt.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair found")


def private(settings: Settings, tmp_path: Path, heap: str = "256m") -> Settings:
    """Settings of a broker of our own: free ports, data under ``tmp_path``, small heap."""
    return dataclasses.replace(
        settings,
        bootstrap_servers=f"127.0.0.1:{free_port_pair()}",
        data_dir=tmp_path / "data",
        broker_heap=heap,
        broker_wait_s=60.0,
    )


@pytest.mark.timeout(180)
def test_cold_start_restart_status_stop(settings: Settings, tmp_path: Path) -> None:
    mine = private(settings, tmp_path)
    previous = os.umask(0o022)  # the usual umask: the broker's files must stay private anyway
    try:
        first = broker.start(mine)
    finally:
        os.umask(previous)
    try:
        assert first.started and first.running and first.answering and first.pid is not None
        assert process.is_broker(first.pid, config.paths(mine).properties)
        again = broker.start(mine)
        assert not again.started and again.pid == first.pid
        assert broker.status(mine).running
        _write_one_record(mine)  # a partition directory and segment files under log.dirs
        assert list(config.paths(mine).log_dirs.glob("private-check-0/*.log"))
    finally:
        stopped = broker.stop(mine)
    assert exposed(mine.data_dir) == [] and count_entries(mine.data_dir) > 10
    assert stopped.pid == first.pid
    assert not process.is_alive(first.pid)
    after = broker.status(mine)
    assert not after.running and not after.answering
    assert not config.paths(mine).pid_file.exists()
    assert broker.stop(mine).pid is None  # stopping twice is a no-op


def _write_one_record(mine: Settings) -> None:
    admin = make_admin(mine)
    try:
        admin.create_topics([NewTopic("private-check", 1, 1)])
    finally:
        admin.close()
    producer = make_producer(mine)
    try:
        producer.send("private-check", b"raw id").get(timeout=30)
    finally:
        producer.close()


def test_port_held_by_another_process_is_refused(settings: Settings, tmp_path: Path) -> None:
    mine = private(settings, tmp_path)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", config.address(mine).port))
        squatter.listen()
        with pytest.raises(PortInUse, match=r"already in use by a process this data dir did not"):
            broker.start(mine)
    assert not config.paths(mine).pid_file.exists()


def test_broker_dying_on_start_shows_why(settings: Settings, tmp_path: Path) -> None:
    mine = private(settings, tmp_path, heap="12zz")
    with pytest.raises(BrokerStartFailed) as info:
        broker.start(mine)
    message = str(info.value)
    assert "Invalid maximum heap size: -Xmx12zz" in message
    assert "\n" not in message
    assert not config.paths(mine).pid_file.exists()
