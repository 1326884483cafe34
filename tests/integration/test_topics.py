"""Topic creation against the real broker: counts, configs, idempotence, conflicts.

The pipeline's fixed names are shared by everyone on a dev broker, so each test uses the real
specs under a uuid prefix.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from typer.testing import CliRunner

from pipeline import topics
from pipeline.cli import _register, app
from pipeline.settings import Settings

_register()  # every sub-command, as the console script sees them

PURPOSES = ["audience_measurement", "advertising"]
Prefixed = Callable[[list[topics.TopicSpec]], list[topics.TopicSpec]]


@pytest.fixture
def prefixed(admin: KafkaAdminClient) -> Iterator[Prefixed]:
    """Rename specs under a fresh uuid prefix; every such topic is deleted at teardown."""
    names: list[str] = []
    prefix = f"test-{uuid.uuid4().hex[:12]}."

    def rename(specs: list[topics.TopicSpec]) -> list[topics.TopicSpec]:
        renamed = [dataclasses.replace(s, name=prefix + s.name) for s in specs]
        names.extend(s.name for s in renamed)
        return renamed

    yield rename
    existing = set(admin.list_topics())
    doomed = sorted({n for n in names if n in existing})
    if doomed:
        admin.delete_topics(doomed, raise_errors=False)


def partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}


def topic_configs(admin: KafkaAdminClient, name: str) -> dict[str, Any]:
    keys = ["cleanup.policy", "retention.ms", "segment.ms", "max.compaction.lag.ms",
            "delete.retention.ms"]
    resource = ConfigResource(ConfigResourceType.TOPIC, name, keys)
    described = admin.describe_configs([resource], config_filter="all")["topic"][name]
    return {key: entry["value"] for key, entry in described.items()}


def settings_with_partitions(settings: Settings, n: int) -> Settings:
    return dataclasses.replace(settings, partitions=n)


def test_creates_every_topic_with_partitions_and_configs(
    admin: KafkaAdminClient, settings: Settings, prefixed: Prefixed
) -> None:
    specs = prefixed(topics.pipeline_specs(settings_with_partitions(settings, 3), PURPOSES))
    result = topics.ensure_topics(admin, specs)
    names = [s.name for s in specs]
    assert sorted(result.created) == sorted(names)
    assert result.existing == ()
    assert partition_counts(admin, names) == dict.fromkeys(names, 3)
    by_suffix = {s.name.split(".", 1)[1]: s.name for s in specs}  # strip the test prefix
    consent = topic_configs(admin, by_suffix[topics.CONSENT])
    assert consent["cleanup.policy"] == "compact"
    assert consent["delete.retention.ms"] == "3600000"
    assert consent["max.compaction.lag.ms"] == str(25 * 3_600_000)  # after 24 h kept whole
    navigation = topic_configs(admin, by_suffix[topics.NAVIGATION])
    assert navigation["retention.ms"] == str(86_400_000)  # policy [erasure]: 24 h
    assert navigation["segment.ms"] == "3600000"
    deadletter = topic_configs(admin, by_suffix[topics.DEADLETTER])
    assert deadletter["cleanup.policy"] == "delete"
    assert deadletter["retention.ms"] == str(30 * 86_400_000)
    sanitized = topic_configs(admin, by_suffix[topics.sanitized("advertising")])
    assert sanitized["cleanup.policy"] == "delete"


def test_second_run_creates_nothing(
    admin: KafkaAdminClient, settings: Settings, prefixed: Prefixed
) -> None:
    specs = prefixed(topics.pipeline_specs(settings_with_partitions(settings, 2), ["advertising"]))
    first = topics.ensure_topics(admin, specs)
    again = topics.ensure_topics(admin, specs)
    assert len(first.created) == len(specs)
    assert again.created == ()
    assert sorted(again.existing) == sorted(s.name for s in specs)


def test_existing_topic_with_other_partition_count_is_a_clear_error(
    admin: KafkaAdminClient, new_topic: Callable[..., str]
) -> None:
    name = new_topic(partitions=2)
    with pytest.raises(topics.TopicConflict) as info:
        topics.ensure_topics(admin, [topics.TopicSpec(name, 3, {"cleanup.policy": "delete"})])
    message = str(info.value)
    assert f"topic {name} has 2 partitions, expected 3" in message
    assert "PRIVACY_PIPELINE_PARTITIONS=2" in message
    assert partition_counts(admin, [name]) == {name: 2}, "a conflict must not alter the topic"


def test_conflict_is_detected_before_anything_is_created(
    admin: KafkaAdminClient, new_topic: Callable[..., str], prefixed: Prefixed
) -> None:
    clash = new_topic(partitions=1)
    [fresh] = prefixed([topics.TopicSpec("fresh", 2)])
    with pytest.raises(topics.TopicConflict):
        topics.ensure_topics(admin, [topics.TopicSpec(clash, 2), fresh])
    assert fresh.name not in admin.list_topics()


def test_existing_topic_with_other_cleanup_policy_is_a_clear_error(
    admin: KafkaAdminClient, new_topic: Callable[..., str]
) -> None:
    name = new_topic(partitions=1, cleanup_policy="delete")
    with pytest.raises(topics.TopicConflict, match=r"cleanup\.policy=delete, expected compact"):
        topics.ensure_topics(admin, [topics.TopicSpec(name, 1, {"cleanup.policy": "compact"})])


def test_topics_command_creates_then_finds(
    admin: KafkaAdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}."
    monkeypatch.setenv("PRIVACY_PIPELINE_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("PRIVACY_PIPELINE_PARTITIONS", "2")
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["topics"])
        again = runner.invoke(app, ["topics"])
        mine = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        counts = partition_counts(admin, mine)
    finally:
        doomed = [t for t in admin.list_topics() if t.startswith(prefix)]
        if doomed:
            admin.delete_topics(doomed, raise_errors=False)
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    # Inputs, consent, decisions, dead letters and subject keys, one per purpose of the default
    # policy, and the changelogs of the worker's six tables (the worker never creates a topic).
    assert len(mine) == 6 + 5 + 6
    names = topics.TopicNames(prefix)
    assert set(names.changelogs) | {names.subject_keys, names.sanitized("advertising")} <= set(mine)
    assert set(counts.values()) == {2}
    assert "17 created, 0 already present" in first.output
    assert "0 created, 17 already present" in again.output
