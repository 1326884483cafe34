"""Broker address parsing, file layout and the rendered server.properties."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.broker import config
from pipeline.broker.exceptions import NotLocalAddress
from pipeline.errors import ConfigError
from pipeline.settings import Settings


def settings_with(bootstrap: str, data_dir: str = "data") -> Settings:
    return Settings.from_env(
        {"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": bootstrap, "PRIVACY_PIPELINE_DATA_DIR": data_dir}
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_address_takes_port_of_first_server_and_binds_loopback(host: str) -> None:
    addr = config.address(settings_with(f"{host}:19092,other:1"))
    assert (addr.host, addr.port, addr.controller_port) == ("127.0.0.1", 19092, 19093)
    assert str(addr) == "127.0.0.1:19092"


@pytest.mark.parametrize("bootstrap", ["kafka:9092", "10.0.0.5:9092", "127.0.0.1:65535"])
def test_address_rejects_remote_or_malformed(bootstrap: str) -> None:
    with pytest.raises(NotLocalAddress, match="PRIVACY_PIPELINE_BOOTSTRAP_SERVERS"):
        config.address(settings_with(bootstrap))


@pytest.mark.parametrize("bootstrap", ["127.0.0.1", "127.0.0.1:x"])
def test_malformed_address_is_refused_by_the_settings(bootstrap: str) -> None:
    # Not host:port at all: every command refuses it when it reads its settings.
    with pytest.raises(ConfigError, match="PRIVACY_PIPELINE_BOOTSTRAP_SERVERS"):
        settings_with(bootstrap)


def test_paths_are_absolute_under_data_dir_kafka(tmp_path: Path) -> None:
    files = config.paths(settings_with("127.0.0.1:1", str(tmp_path / "d")))
    assert files.root == tmp_path / "d" / "kafka"
    assert files.log == files.root / "broker.log"
    assert files.pid_file.parent == files.root
    assert files.formatted_marker == files.root / "data" / "meta.properties"
    assert config.paths(settings_with("127.0.0.1:1", "rel")).root.is_absolute()


def parse(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_server_properties_single_combined_node(tmp_path: Path) -> None:
    props = parse(config.server_properties(config.BrokerAddress("127.0.0.1", 19092), tmp_path))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["log.dirs"] == str(tmp_path)
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "3000"  # Kafka's default


def test_the_initial_rebalance_delay_is_configurable(tmp_path: Path) -> None:
    addr = config.BrokerAddress("127.0.0.1", 19092)
    props = parse(config.server_properties(addr, tmp_path, rebalance_delay_ms=0))
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_housekeeping_interval_only_when_set(tmp_path: Path) -> None:
    addr = config.BrokerAddress("127.0.0.1", 19092)
    default = parse(config.server_properties(addr, tmp_path))
    assert "log.retention.check.interval.ms" not in default
    assert "log.cleaner.backoff.ms" not in default
    fast = parse(config.server_properties(addr, tmp_path, 1000))
    assert fast["log.retention.check.interval.ms"] == "1000"
    assert fast["log.cleaner.backoff.ms"] == "1000"
    assert fast["log.initial.task.delay.ms"] == "1000"
