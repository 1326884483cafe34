"""One frozen settings object, read from ``PRIVACY_PIPELINE_*`` environment variables.

Build it with :func:`Settings.from_env` (pass any mapping in tests; ``os.environ`` by
default). Every field's docstring names its environment variable.
"""

from __future__ import annotations

import dataclasses
import os
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


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _shard(raw: str) -> str:
    index, sep, count = raw.strip().partition("/")
    if not (sep and index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError("must be INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/1 or 1/3")
    return raw.strip()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Settings of every privacy-pipeline process."""

    bootstrap_servers: str = _env("BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    """Kafka bootstrap servers, comma separated. Env: ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``."""

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

    def env_names(self) -> dict[str, str]:
        """Map each field to its environment variable (for ``--help`` texts and docs)."""
        return {f.name: f.metadata["env"] for f in dataclasses.fields(self)}
