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


@dataclasses.dataclass(frozen=True)
class Settings:
    """Settings of every privacy-pipeline process."""

    bootstrap_servers: str = _env("BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    """Kafka bootstrap servers, comma separated. Env: ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``."""

    data_dir: Path = _env("DATA_DIR", Path("data"), Path)
    """DuckDB files, keyring and local broker data. Env: ``PRIVACY_PIPELINE_DATA_DIR``."""

    policy: Path | None = _env("POLICY", None, Path)
    """Policy file; ``None`` means the policy shipped in the package. Env: ``PRIVACY_PIPELINE_POLICY``."""

    partitions: int = _env("PARTITIONS", 6, _positive_int)
    """Partition count shared by the input topics. Env: ``PRIVACY_PIPELINE_PARTITIONS``."""

    broker_heap: str = _env("BROKER_HEAP", "512m")
    """JVM heap of the local broker (``-Xmx``). Env: ``PRIVACY_PIPELINE_BROKER_HEAP``."""

    kafka_cache: Path = _env(
        "KAFKA_CACHE", Path.home() / ".cache" / "privacy-pipeline" / "kafka", Path
    )
    """Where the Kafka jars fetched from Maven Central are cached. Env: ``PRIVACY_PIPELINE_KAFKA_CACHE``."""

    broker_wait_s: float = _env("BROKER_WAIT_S", 60.0, _positive_float)
    """Bound on waits for the broker to answer, seconds. Env: ``PRIVACY_PIPELINE_BROKER_WAIT_S``."""

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
