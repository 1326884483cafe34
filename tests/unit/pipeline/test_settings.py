"""Settings: environment parsing, defaults, and errors that name the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import PREFIX, Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_defaults_from_empty_env() -> None:
    s = Settings.from_env({})
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.data_dir == Path("data")
    assert s.policy is None
    assert s.partitions == 6
    assert s.broker_heap == "512m"
    assert s.broker_wait_s == 60.0


def test_values_are_parsed_to_field_types() -> None:
    s = Settings.from_env(
        {
            "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
            "PRIVACY_PIPELINE_DATA_DIR": "/tmp/pp",
            "PRIVACY_PIPELINE_POLICY": "policy.toml",
            "PRIVACY_PIPELINE_PARTITIONS": "12",
            "PRIVACY_PIPELINE_BROKER_WAIT_S": "2.5",
            "PRIVACY_PIPELINE_KAFKA_CACHE": "/tmp/kc",
        }
    )
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.data_dir == Path("/tmp/pp")
    assert s.policy == Path("policy.toml")
    assert s.partitions == 12
    assert s.broker_wait_s == 2.5
    assert s.kafka_cache == Path("/tmp/kc")


def test_empty_value_means_default() -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_PARTITIONS": "", "PRIVACY_PIPELINE_POLICY": ""})
    assert s.partitions == 6
    assert s.policy is None


def test_variables_without_prefix_are_ignored() -> None:
    assert Settings.from_env({"PARTITIONS": "3"}).partitions == 6


def test_bootstrap_list_splits_and_trims() -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": " a:1, b:2 ,,"})
    assert s.bootstrap_list == ["a:1", "b:2"]


@pytest.mark.parametrize(
    ("var", "raw", "why"),
    [
        ("PRIVACY_PIPELINE_PARTITIONS", "abc", "invalid literal"),
        ("PRIVACY_PIPELINE_PARTITIONS", "0", "positive integer"),
        ("PRIVACY_PIPELINE_PARTITIONS", "-3", "positive integer"),
        ("PRIVACY_PIPELINE_PARTITIONS", "2.5", "invalid literal"),
        ("PRIVACY_PIPELINE_BROKER_WAIT_S", "0", "positive number"),
        ("PRIVACY_PIPELINE_BROKER_WAIT_S", "soon", "could not convert"),
        ("PRIVACY_PIPELINE_BROKER_REBALANCE_DELAY_MS", "-1", "zero or a positive integer"),
    ],
)
def test_bad_value_raises_config_error_naming_the_variable(var: str, raw: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({var: raw})
    message = str(info.value)
    assert message.startswith(f"{var}={raw!r} is invalid")
    assert why in message
    assert "\n" not in message


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.partitions = 3  # type: ignore[misc]


def test_every_field_has_its_own_prefixed_variable() -> None:
    names = Settings().env_names()
    assert set(names) == {f.name for f in dataclasses.fields(Settings)}
    assert all(v.startswith(PREFIX) for v in names.values())
    assert len(set(names.values())) == len(names)


def test_readme_documents_every_variable() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [v for v in Settings().env_names().values() if f"`{v}`" not in text]
    assert not missing, (
        f"README.md lacks {missing}; regenerate the table with "
        "`.venv/bin/python scripts/settings_table.py --write`"
    )


@pytest.mark.parametrize("value", ["", "   ", ","])
def test_empty_bootstrap_is_an_error_not_the_default(value: str) -> None:
    # An empty value used to mean 127.0.0.1:9092 silently (and created topics there).
    with pytest.raises(ConfigError, match="PRIVACY_PIPELINE_BOOTSTRAP_SERVERS"):
        Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": value})


@pytest.mark.parametrize("value", ["nohostport", "a:", ":9092", "a:99999", "a:1,b", "a b:1"])
def test_malformed_bootstrap_is_an_error(value: str) -> None:
    with pytest.raises(ConfigError, match="host:port"):
        Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": value})


@pytest.mark.parametrize("value", ["kafka-1.example:9092", "10.0.0.5:9092,10.0.0.6:9093",
                                   "[::1]:9092"])
def test_wellformed_bootstrap_lists_pass(value: str) -> None:
    assert Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": value}).bootstrap_list
