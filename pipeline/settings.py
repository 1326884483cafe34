"""One frozen settings object, read from ``PRIVACY_PIPELINE_*`` environment variables.

Build it with :func:`Settings.from_env` (pass any mapping in tests; ``os.environ`` by
default). Every field's docstring names its environment variable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

PREFIX = "PRIVACY_PIPELINE_"


def _env(name: str, default: Any, parse: Callable[[str], Any] = str) -> Any:
    """Declare a setting read from ``PRIVACY_PIPELINE_<name>``."""
    return dataclasses.field(default=default, metadata={"env": PREFIX + name, "parse": parse})


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")


def _host_ports(raw: str) -> str:
    """``host:port[,host:port...]``: a name without a port would make the clients hang."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ValueError("no host:port in it; write e.g. 127.0.0.1:9092")
    for item in items:
        match = _HOST_PORT.match(item)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise ValueError(
                f"{item!r} is not host:port; write e.g. 127.0.0.1:9092 or a:9092,b:9092"
            )
    return ",".join(items)


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("must be true or false")
    return value in ("true", "1", "yes")


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 0 (off) to 65535")
    return value


def _shard(raw: str) -> str:
    index, sep, count = raw.strip().partition("/")
    if not (sep and index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError("must be INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/1 or 1/3")
    return raw.strip()


def _networks(raw: str) -> str:
    for part in raw.split(","):
        if part.strip():
            ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad one
    return raw


@dataclasses.dataclass(frozen=True)
class Settings:
    """Settings of every privacy-pipeline process."""

    bootstrap_servers: str = dataclasses.field(
        default="127.0.0.1:9092",
        metadata={"env": PREFIX + "BOOTSTRAP_SERVERS", "parse": _host_ports, "required": True},
    )
    """Kafka bootstrap servers, ``host:port`` comma separated; set but empty is an error (it
    would silently mean the default). Env: ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``."""

    data_dir: Path = _env("DATA_DIR", Path("data"), Path)
    """DuckDB files, keyring and local broker data. Env: ``PRIVACY_PIPELINE_DATA_DIR``."""

    policy: Path | None = _env("POLICY", None, Path)
    """Policy file; ``None`` means the policy shipped in the package.
    Env: ``PRIVACY_PIPELINE_POLICY``."""

    partitions: int = _env("PARTITIONS", 6, _positive_int)
    """Partition count shared by the input topics. Env: ``PRIVACY_PIPELINE_PARTITIONS``."""

    broker_heap: str = _env("BROKER_HEAP", "512m")
    """JVM heap of the local broker (``-Xmx``). Env: ``PRIVACY_PIPELINE_BROKER_HEAP``."""

    kafka_cache: Path = _env(
        "KAFKA_CACHE", Path.home() / ".cache" / "privacy-pipeline" / "kafka", Path
    )
    """Where the Kafka jars fetched from Maven Central are cached.
    Env: ``PRIVACY_PIPELINE_KAFKA_CACHE``."""

    broker_wait_s: float = _env("BROKER_WAIT_S", 60.0, _positive_float)
    """Bound on waits for the broker to answer, seconds. Env: ``PRIVACY_PIPELINE_BROKER_WAIT_S``."""

    broker_housekeeping_ms: int | None = _env("BROKER_HOUSEKEEPING_MS", None, _positive_int)
    """How often the local broker checks retention and its cleaner looks for work, ms (unset:
    Kafka's 5 min and 15 s; the test suite sets 1000 to see erasure bounds within seconds).
    Env: ``PRIVACY_PIPELINE_BROKER_HOUSEKEEPING_MS``."""

    broker_rebalance_delay_ms: int = _env("BROKER_REBALANCE_DELAY_MS", 3000, _non_negative_int)
    """How long the local broker lets a new consumer group gather its members before the first
    assignment, ms (Kafka's default, 3000: workers started together share the first one
    instead of rebalancing under load; the test suite sets 0 for fast joins).
    Env: ``PRIVACY_PIPELINE_BROKER_REBALANCE_DELAY_MS``."""

    collector_host: str = _env("COLLECTOR_HOST", "127.0.0.1")
    """Address the HTTP collector listens on. Env: ``PRIVACY_PIPELINE_COLLECTOR_HOST``."""

    collector_port: int = _env("COLLECTOR_PORT", 8080, _positive_int)
    """Port the HTTP collector listens on. Env: ``PRIVACY_PIPELINE_COLLECTOR_PORT``."""

    collector_keys: str = _env("COLLECTOR_KEYS", "")
    """API key hashes, ``app:sha256hex,...`` (see ``collector new-key``).

    Env: ``PRIVACY_PIPELINE_COLLECTOR_KEYS``.
    """

    collector_keys_file: Path | None = _env("COLLECTOR_KEYS_FILE", None, Path)
    """File of ``app:sha256hex`` lines, read besides the variable.

    Env: ``PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE``.
    """

    collector_rate: float = _env("COLLECTOR_RATE", 5000.0, _positive_float)
    """Events per second each API key may send (token bucket).

    Env: ``PRIVACY_PIPELINE_COLLECTOR_RATE``.
    """

    collector_burst: int = _env("COLLECTOR_BURST", 10000, _positive_int)
    """Token-bucket size per API key, in events. Env: ``PRIVACY_PIPELINE_COLLECTOR_BURST``."""

    collector_cors: str = _env("COLLECTOR_CORS", "")
    """Web origins allowed by CORS, comma separated (empty: none).

    Env: ``PRIVACY_PIPELINE_COLLECTOR_CORS``.
    """

    collector_produce_timeout_s: float = _env(
        "COLLECTOR_PRODUCE_TIMEOUT_S", 10.0, _positive_float
    )
    """Bound on waiting for Kafka acks before answering 503.

    Env: ``PRIVACY_PIPELINE_COLLECTOR_PRODUCE_TIMEOUT_S``.
    """

    collector_subject_jwks: Path | None = _env("COLLECTOR_SUBJECT_JWKS", None, Path)
    """JWKS file of the identity provider the apps log users in with; when set, consent/1 and
    rights/1 need an ``X-Subject-Token`` JWT whose ``sub`` is the event's ``user_id``.
    Env: ``PRIVACY_PIPELINE_COLLECTOR_SUBJECT_JWKS``."""

    collector_subject_issuer: str = _env("COLLECTOR_SUBJECT_ISSUER", "")
    """Expected ``iss`` of subject tokens (required with the JWKS).
    Env: ``PRIVACY_PIPELINE_COLLECTOR_SUBJECT_ISSUER``."""

    collector_subject_audience: str = _env("COLLECTOR_SUBJECT_AUDIENCE", "")
    """Expected ``aud`` of subject tokens (required with the JWKS).
    Env: ``PRIVACY_PIPELINE_COLLECTOR_SUBJECT_AUDIENCE``."""

    collector_trusted_proxies: str = _env("COLLECTOR_TRUSTED_PROXIES", "", _networks)
    """Addresses or CIDR networks of reverse proxies whose ``X-Forwarded-For`` is believed,
    comma separated (empty: none; the socket peer is the client).
    Env: ``PRIVACY_PIPELINE_COLLECTOR_TRUSTED_PROXIES``."""

    kek: str = _env("KEK", "file")
    """Key-encryption-key backend of the keyring: ``file`` (``<data_dir>/keys/master.key``) or
    ``env`` (``PRIVACY_PIPELINE_MASTER_KEY``). Env: ``PRIVACY_PIPELINE_KEK``."""

    master_key: str | None = dataclasses.field(
        default=None, repr=False, metadata={"env": PREFIX + "MASTER_KEY", "parse": str}
    )
    """Base64 of the 32-byte master key when ``kek`` is ``env`` (never printed: ``repr=False``).

    Env: ``PRIVACY_PIPELINE_MASTER_KEY``.
    """

    actor: str | None = _env("ACTOR", None)
    """Who runs key operations, for the audit log (default: the login name).

    Env: ``PRIVACY_PIPELINE_ACTOR``.
    """

    topic_prefix: str = _env("TOPIC_PREFIX", "")
    """Prefix of every topic name and of the worker group id; empty in production, a unique
    value per test run isolates tests on a shared broker. Env: ``PRIVACY_PIPELINE_TOPIC_PREFIX``."""

    worker_store: str = _env("WORKER_STORE", "rocksdb://")
    """faust table store of the worker: ``rocksdb://`` (rocksdict) or ``memory://``.
    Env: ``PRIVACY_PIPELINE_WORKER_STORE``."""

    worker_id: str = _env("WORKER_ID", "1")
    """Name of this worker process; its table files live in ``<data_dir>/worker-<id>``.
    Env: ``PRIVACY_PIPELINE_WORKER_ID``."""

    worker_batch: int = _env("WORKER_BATCH", 2000, _positive_int)
    """Most input records a worker decides in one batch. Env: ``PRIVACY_PIPELINE_WORKER_BATCH``."""

    # Per-user bounds of the worker's state (issue 11): no input can grow a table value past
    # what the broker accepts, nor make one hold rewrite an unbounded list.
    worker_held_max_events: int = _env("WORKER_HELD_MAX_EVENTS", 1000, _positive_int)
    """Most events of one user held in the grace window; beyond, an event is decided at once
    (no consent yet: ``dropped_hold_overflow``).
    Env: ``PRIVACY_PIPELINE_WORKER_HELD_MAX_EVENTS``."""

    worker_held_max_bytes: int = _env("WORKER_HELD_MAX_BYTES", 256 * 1024, _positive_int)
    """Most raw event bytes of one user held in the grace window.
    Env: ``PRIVACY_PIPELINE_WORKER_HELD_MAX_BYTES``."""

    worker_history_max: int = _env("WORKER_HISTORY_MAX", 16, _positive_int)
    """Most consent changes kept per user and purpose.
    Env: ``PRIVACY_PIPELINE_WORKER_HISTORY_MAX``."""

    worker_audit_max: int = _env("WORKER_AUDIT_MAX", 100, _positive_int)
    """Most rights requests kept per subject's audit trail (older ones are counted).
    Env: ``PRIVACY_PIPELINE_WORKER_AUDIT_MAX``."""

    worker_value_max_bytes: int = _env("WORKER_VALUE_MAX_BYTES", 512 * 1024, _positive_int)
    """Largest table key + value a worker writes to a changelog (under the broker's 1 MiB
    message limit); an input that would need more is dead-lettered.
    Env: ``PRIVACY_PIPELINE_WORKER_VALUE_MAX_BYTES``."""

    sink_batch_size: int = _env("SINK_BATCH_SIZE", 20000, _positive_int)
    """Most Kafka messages the sink writes in one DuckDB transaction.
    Env: ``PRIVACY_PIPELINE_SINK_BATCH_SIZE``."""

    sink_publish_interval_s: float = _env("SINK_PUBLISH_INTERVAL_S", 5.0, _positive_float)
    """Seconds between two publications of ``analytics.duckdb`` by the sink.
    Env: ``PRIVACY_PIPELINE_SINK_PUBLISH_INTERVAL_S``."""

    sink_shard: str = _env("SINK_SHARD", "0/1", _shard)
    """``INDEX/COUNT``: this sink owns the partitions p with p % COUNT == INDEX and writes
    ``pipeline-<INDEX>.duckdb`` when COUNT > 1. Env: ``PRIVACY_PIPELINE_SINK_SHARD``."""

    sink_close_margin_s: float = _env("SINK_CLOSE_MARGIN_S", 86400.0, _positive_float)
    """Margin added to the policy's lateness bound before a window's pseudonym set is dropped
    and its visitor count frozen. Env: ``PRIVACY_PIPELINE_SINK_CLOSE_MARGIN_S``."""

    sink_retention_interval_s: float = _env("SINK_RETENTION_INTERVAL_S", 300.0, _positive_float)
    """Seconds between two retention passes of the sink (window close, aggregate expiry, key
    expiry). Env: ``PRIVACY_PIPELINE_SINK_RETENTION_INTERVAL_S``."""

    analytics_dir: Path | None = _env("ANALYTICS_DIR", None, Path)
    """Directory of ``analytics.duckdb``, the analysts' database; never inside the data directory.
    Default: ``<data_dir>-analytics`` beside it. Env: ``PRIVACY_PIPELINE_ANALYTICS_DIR``."""

    analytics_group_readable: bool = _env("ANALYTICS_GROUP_READABLE", False, _bool)
    """``true``: the analytics directory is 0750 and ``analytics.duckdb`` 0640, for the analysts'
    group; ``false``: 0700/0600 like the rest.
    Env: ``PRIVACY_PIPELINE_ANALYTICS_GROUP_READABLE``."""

    metrics_host: str = _env("METRICS_HOST", "127.0.0.1")
    """Address the metrics and health endpoints of the worker, sink and collector listen on
    (loopback by default: metrics are for the operator, not the public).
    Env: ``PRIVACY_PIPELINE_METRICS_HOST``."""

    worker_metrics_port: int = _env("WORKER_METRICS_PORT", 9500, _port)
    """Base port of the workers' ``/metrics`` and ``/healthz``: a worker listens on base +
    its number (the ``--id`` when numeric, modulo 100), so workers 1 and 2 on one host get
    9501 and 9502; 0 turns the endpoint off. Env: ``PRIVACY_PIPELINE_WORKER_METRICS_PORT``."""

    sink_metrics_port: int = _env("SINK_METRICS_PORT", 9600, _port)
    """Base port of the sinks' ``/metrics`` and ``/healthz``: a sink listens on base + its
    shard index; 0 turns the endpoint off. Env: ``PRIVACY_PIPELINE_SINK_METRICS_PORT``."""

    collector_metrics_port: int = _env("COLLECTOR_METRICS_PORT", 9700, _port)
    """Port of the collector's ``/metrics`` and ``/healthz`` (kept off the public port);
    0 turns it off. Env: ``PRIVACY_PIPELINE_COLLECTOR_METRICS_PORT``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``).

        Raises:
            ConfigError: a variable is set to a value that cannot be parsed; the message names it.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = field.metadata["env"]
            raw = env.get(name)
            if raw is not None and not raw.strip() and field.metadata.get("required"):
                raise ConfigError(f"{name} is set but empty: unset it or give a value")
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = field.metadata["parse"](raw)
            except ValueError as exc:
                raise ConfigError(f"{name}={raw!r} is invalid: {exc}") from None
        return cls(**values)

    @property
    def bootstrap_list(self) -> list[str]:
        """Bootstrap servers as a list, as kafka-python takes them."""
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @property
    def analytics_directory(self) -> Path:
        """Where ``analytics.duckdb`` is published (``analytics_dir`` or its default).

        Raises:
            ConfigError: it is inside the data directory (or contains it).
        """
        data = self.data_dir.absolute()
        if self.analytics_dir is None and not data.name:
            raise ConfigError(f"the data directory is {data}: set PRIVACY_PIPELINE_ANALYTICS_DIR")
        chosen = self.analytics_dir or data.with_name(f"{data.name}-analytics")
        a, d = chosen.resolve(), data.resolve()
        if a == d or a.is_relative_to(d) or d.is_relative_to(a):
            raise ConfigError(
                f"PRIVACY_PIPELINE_ANALYTICS_DIR={chosen} overlaps the data directory {data}: "
                "analysts must not reach the pipeline's private files; choose a separate directory"
            )
        return chosen

    def env_names(self) -> dict[str, str]:
        """Map each field to its environment variable (for ``--help`` texts and docs)."""
        return {f.name: f.metadata["env"] for f in dataclasses.fields(self)}
