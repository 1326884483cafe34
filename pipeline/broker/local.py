"""Start, stop and inspect the local single-node Kafka broker of one data dir.

Idempotent by construction: the pid file plus :func:`process.is_broker` say whether this
data dir's broker runs; a second ``start`` waits for it to answer and reports the same pid,
``stop`` only ever signals that verified pid.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import fcntl
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from importlib import resources

from pipeline.broker import config, process
from pipeline.broker.exceptions import BrokerStartFailed, PortInUse
from pipeline.broker.jars import class_path, fetch_jars, require_tool
from pipeline.broker.logs import relevant_lines, rotate
from pipeline.errors import BrokerUnavailable
from pipeline.kafka import probe
from pipeline.private import open_private, private_dir, write_private
from pipeline.settings import Settings

_JAVA_HINT = "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
_FORMAT_TIMEOUT_S = 120.0


@dataclasses.dataclass(frozen=True)
class BrokerState:
    """What ``broker status`` and ``broker start`` report."""

    running: bool
    pid: int | None
    address: str
    data_dir: str
    answering: bool = False
    started: bool = False
    """True when this call started the broker (False: it was already running)."""
    seconds: float = 0.0
    """Time from the call to the broker answering (start only)."""
    fetched_jars: bool = False


def status(settings: Settings) -> BrokerState:
    """Whether this data dir's broker runs, and whether anything answers at its address."""
    addr = config.address(settings)
    files = config.paths(settings)
    pid = process.read_pid(files.pid_file)
    running = pid is not None and process.is_broker(pid, files.properties)
    return BrokerState(
        running=running,
        pid=pid if running else None,
        address=str(addr),
        data_dir=str(files.root),
        answering=probe(settings, 1.0),
    )


def start(settings: Settings, notify: Callable[[str], None] | None = None) -> BrokerState:
    """Start the broker unless this data dir's broker already runs; wait until it answers.

    ``notify`` receives progress sentences (the first-run jar fetch).

    Raises:
        ToolMissing: java or mvn is not installed.
        PortInUse: another process holds the broker or controller port.
        BrokerStartFailed: the JVM exited during format or start (message: last log lines).
        BrokerUnavailable: it runs but did not answer within ``settings.broker_wait_s``.
    """
    t0 = time.monotonic()
    addr = config.address(settings)
    files = config.paths(settings)
    private_dir(settings.data_dir.resolve())
    private_dir(files.root)
    with _locked(files):
        pid = process.read_pid(files.pid_file)
        if pid is not None and process.is_broker(pid, files.properties):
            _wait_ready(settings, pid, None)
            return _state(settings, pid, t0, started=False)
        java = require_tool("java", _JAVA_HINT)
        _, fetched = fetch_jars(settings, notify)
        _check_ports_free(addr)
        _write_config(files, addr, settings)
        rotate(files.log)
        if not files.formatted_marker.exists():
            _format_storage(java, settings, files)
        private_dir(files.log_dirs)  # a data dir from before 0700 was enforced
        argv = [*_java_prefix(java, settings, files, heap=True), "kafka.Kafka",
                str(files.properties)]  # fmt: skip
        proc = process.launch(argv, files.log, files.root)
        process.write_pid(files.pid_file, proc.pid)
        _wait_ready(settings, proc.pid, proc)
    return dataclasses.replace(_state(settings, proc.pid, t0, started=True), fetched_jars=fetched)


def stop(settings: Settings) -> BrokerState:
    """Stop this data dir's broker (SIGTERM, bounded wait, then SIGKILL); no-op if stopped.

    A pid file naming a dead or foreign process is removed; that process is never signalled.
    """
    addr = config.address(settings)
    files = config.paths(settings)
    if not files.root.is_dir():
        return BrokerState(running=False, pid=None, address=str(addr), data_dir=str(files.root))
    with _locked(files):
        pid = process.read_pid(files.pid_file)
        was_running = pid is not None and process.is_broker(pid, files.properties)
        if pid is not None and was_running:
            process.terminate(pid, settings.broker_wait_s)
        files.pid_file.unlink(missing_ok=True)
    return BrokerState(
        running=False,
        pid=pid if was_running else None,
        address=str(addr),
        data_dir=str(files.root),
    )


def _state(settings: Settings, pid: int, t0: float, *, started: bool) -> BrokerState:
    files = config.paths(settings)
    return BrokerState(
        running=True,
        pid=pid,
        address=str(config.address(settings)),
        data_dir=str(files.root),
        answering=True,
        started=started,
        seconds=time.monotonic() - t0,
    )


def _check_ports_free(addr: config.BrokerAddress) -> None:
    for port in (addr.port, addr.controller_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # Same option as the JVM's listeners: only a live socket blocks, not TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((addr.host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise PortInUse(
                    f"{addr.host}:{port} is already in use by a process this data dir did not "
                    f"start; stop it, or pick a free port in PRIVACY_PIPELINE_BOOTSTRAP_SERVERS "
                    f"(the broker uses <port> and <port>+1)"
                ) from None


def _write_config(files: config.BrokerPaths, addr: config.BrokerAddress,
                  settings: Settings) -> None:
    text = config.server_properties(addr, files.log_dirs, settings.broker_housekeeping_ms,
                                    settings.broker_rebalance_delay_ms)
    write_private(files.properties, text.encode())
    log_config = resources.files("pipeline.broker").joinpath("log4j2.xml").read_bytes()
    write_private(files.log_config, log_config)


def _java_prefix(
    java: str, settings: Settings, files: config.BrokerPaths, *, heap: bool
) -> list[str]:
    """``java [-Xmx…] -Dlog4j2… -cp libs/*``; the caller appends the main class and its args."""
    return [
        java, *([f"-Xmx{settings.broker_heap}"] if heap else []),
        f"-Dlog4j2.configurationFile={files.log_config}",
        # Kafka logs its own shutdown from a JVM hook; log4j must not close before it.
        "-Dlog4j2.shutdownHookEnabled=false", "-cp", class_path(settings),
    ]  # fmt: skip


@contextlib.contextmanager
def _locked(files: config.BrokerPaths) -> Iterator[None]:
    # Serialises start/stop of one data dir: two concurrent `start`s give one broker.
    with os.fdopen(open_private(files.root / "broker.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-'."""
    while True:
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not raw.startswith("-"):
            return raw


def _format_storage(java: str, settings: Settings, files: config.BrokerPaths) -> None:
    argv = [
        *_java_prefix(java, settings, files, heap=False), "kafka.tools.StorageTool",
        "format", "-t", _cluster_id(), "-c", str(files.properties),
    ]  # fmt: skip
    proc = process.launch(argv, files.log, files.root)
    try:
        code = proc.wait(timeout=_FORMAT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    if code != 0 or not files.formatted_marker.exists():
        raise BrokerStartFailed(
            f"formatting broker storage failed: {relevant_lines(files.log)} (log: {files.log})"
        )


def _wait_ready(settings: Settings, pid: int, proc: subprocess.Popen[bytes] | None) -> None:
    # The bound starts at launch: a first-run jar fetch does not eat the broker's budget.
    files = config.paths(settings)
    deadline = time.monotonic() + settings.broker_wait_s
    while True:
        exited = proc.poll() is not None if proc is not None else not process.is_alive(pid)
        if exited:
            files.pid_file.unlink(missing_ok=True)
            raise BrokerStartFailed(
                f"broker exited while starting: {relevant_lines(files.log)} (log: {files.log})"
            )
        if probe(settings, 1.0):
            return
        if time.monotonic() >= deadline:
            raise BrokerUnavailable(
                f"broker (pid {pid}) did not answer at {config.address(settings)} within "
                f"{settings.broker_wait_s:.0f} s; see {files.log}, raise "
                "PRIVACY_PIPELINE_BROKER_WAIT_S or run `privacy-pipeline broker stop`"
            )
        time.sleep(0.25)
