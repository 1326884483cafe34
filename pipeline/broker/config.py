"""Where the local broker keeps its files, and the ``server.properties`` it runs with.

One combined broker + controller node (KRaft) bound to 127.0.0.1: the client listener on
the port of ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``, the controller on the next port.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.broker.exceptions import NotLocalAddress
from pipeline.settings import Settings

BIND_HOST = "127.0.0.1"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclasses.dataclass(frozen=True)
class BrokerPaths:
    """Files of the local broker, all under ``<data_dir>/kafka``."""

    root: Path

    @property
    def properties(self) -> Path:
        """The generated ``server.properties`` (rewritten on every start)."""
        return self.root / "server.properties"

    @property
    def log_config(self) -> Path:
        """The log4j2 configuration copied from the package."""
        return self.root / "log4j2.xml"

    @property
    def log(self) -> Path:
        """Broker output (stdout and stderr of the JVM)."""
        return self.root / "broker.log"

    @property
    def pid_file(self) -> Path:
        """Pid of the broker this data dir started."""
        return self.root / "broker.pid"

    @property
    def log_dirs(self) -> Path:
        """Kafka's ``log.dirs``: partitions and the KRaft metadata log."""
        return self.root / "data"

    @property
    def formatted_marker(self) -> Path:
        """Written by ``kafka-storage format``; its presence means formatting is done."""
        return self.log_dirs / "meta.properties"


@dataclasses.dataclass(frozen=True)
class BrokerAddress:
    """Host and ports of the local broker."""

    host: str
    port: int

    @property
    def controller_port(self) -> int:
        """The KRaft controller listens on the port after the client port."""
        return self.port + 1

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def paths(settings: Settings) -> BrokerPaths:
    """Broker files for ``settings.data_dir`` (made absolute: the JVM runs elsewhere)."""
    return BrokerPaths(settings.data_dir.resolve() / "kafka")


def address(settings: Settings) -> BrokerAddress:
    """The address the local broker serves: the first bootstrap server.

    Raises:
        NotLocalAddress: the first bootstrap server is not on this machine or has no valid port.
    """
    servers = settings.bootstrap_list
    first = servers[0] if servers else ""
    host, sep, raw_port = first.rpartition(":")
    env = settings.env_names()["bootstrap_servers"]
    if not sep or host not in _LOCAL_HOSTS:
        raise NotLocalAddress(
            f"{env}={settings.bootstrap_servers!r}: a local broker needs 127.0.0.1:<port> or "
            "localhost:<port> first; set it, or manage the remote broker elsewhere"
        )
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65535:
        raise NotLocalAddress(f"{env}={settings.bootstrap_servers!r}: port must be 1..65534")
    return BrokerAddress(BIND_HOST, int(raw_port))


def server_properties(
    addr: BrokerAddress, log_dirs: Path, housekeeping_ms: int | None = None,
    rebalance_delay_ms: int = 3000,
) -> str:
    """Render ``server.properties`` of a single-node combined broker + controller.

    Replication factors are 1 (one node). ``rebalance_delay_ms``
    (``PRIVACY_PIPELINE_BROKER_REBALANCE_DELAY_MS``) is how long a new consumer group waits
    for more members before its first assignment: Kafka's 3 s by default, so that workers
    started together share it (with 0, the second worker's join moved every partition while
    the first drained a backlog: a pause and many records decided twice); the tests set 0 so
    that their groups form at once. Internal topics get fewer partitions
    than Kafka's default 50: less start-up work and fewer files on a small machine.
    ``housekeeping_ms`` (``PRIVACY_PIPELINE_BROKER_HOUSEKEEPING_MS``) sets how often retention
    is checked and the idle cleaner looks for logs to compact (``log.retention.check.
    interval.ms`` is read at start only), and how long after start the first check runs (Kafka:
    30 s, a testing-only setting); None keeps Kafka's defaults (5 min, 15 s, 30 s).
    """
    ctl = f"{addr.host}:{addr.controller_port}"
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{ctl}",
        f"listeners=PLAINTEXT://{addr},CONTROLLER://{ctl}",
        f"advertised.listeners=PLAINTEXT://{addr}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={log_dirs}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=10",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=10",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        f"group.initial.rebalance.delay.ms={rebalance_delay_ms}",
    ]
    if housekeeping_ms is not None:  # the first retention check also waits 30 s otherwise
        lines += [f"log.retention.check.interval.ms={housekeeping_ms}",
                  f"log.cleaner.backoff.ms={housekeeping_ms}",
                  f"log.initial.task.delay.ms={housekeeping_ms}"]  # fmt: skip
    return "\n".join(lines) + "\n"
