"""Shard specs, topic names and the sink's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.sink.config import ShardSpec, SinkTopics, sink_config
from pipeline.sink.exceptions import ShardSpecError


def test_shard_spec_parses_and_owns_partitions() -> None:
    shard = ShardSpec.parse("1/3")
    assert [p for p in range(7) if shard.owns(p)] == [1, 4]
    assert shard.db_name == "pipeline-1.duckdb"
    assert ShardSpec.parse("0/1").db_name == "pipeline.duckdb"
    assert str(shard) == "1/3"


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "0/0", ""])
def test_bad_shard_specs_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ShardSpecError, match="INDEX/COUNT"):
        ShardSpec.parse(text)


def test_every_shard_owns_disjoint_partitions() -> None:
    owners = [[i for i in range(4) if ShardSpec(i, 4).owns(p)] for p in range(24)]
    assert all(len(o) == 1 for o in owners)


def test_topics_follow_the_prefix() -> None:
    topics = SinkTopics.for_purposes(["geolocation"], prefix="t1-")
    assert topics.all() == ["t1-sanitized.geolocation.v1", "t1-pipeline.decisions.v1"]


def test_sink_settings_from_env(tmp_path: Path) -> None:
    env = {"PRIVACY_PIPELINE_SINK_SHARD": "2/4", "PRIVACY_PIPELINE_SINK_BATCH_SIZE": "500",
           "PRIVACY_PIPELINE_SINK_PUBLISH_INTERVAL_S": "1.5",
           "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path), "PRIVACY_PIPELINE_TOPIC_PREFIX": "x-"}
    settings = Settings.from_env(env)
    config = sink_config(settings, load_policy(None))
    assert (config.shard, config.batch_size, config.publish_interval_s) == (
        ShardSpec(2, 4), 500, 1.5)
    assert config.db_path == tmp_path / "pipeline-2.duckdb"
    assert sorted(config.topics.sanitized) == ["advertising", "audience_measurement",
                                               "geolocation"]
    assert config.topics.decisions == "x-pipeline.decisions.v1"
    assert config.k == 5 and config.close_after.days == 8


def test_bad_shard_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PRIVACY_PIPELINE_SINK_SHARD"):
        Settings.from_env({"PRIVACY_PIPELINE_SINK_SHARD": "4/4"})
