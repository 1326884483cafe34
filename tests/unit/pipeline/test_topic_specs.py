"""Topic names and specs (DESIGN.md section 3); creation is covered by the integration tests."""

from __future__ import annotations

from pipeline import topics
from pipeline.policy.erasure import ErasureBounds
from pipeline.settings import Settings
from pipeline.topic_configs import with_erasure_compaction

PURPOSES = ["audience_measurement", "geolocation", "personalisation", "advertising",
            "fraud_prevention"]  # fmt: skip


def test_contract_names() -> None:
    assert topics.NAVIGATION == "app.navigation.v1"
    assert topics.GEOLOCATION == "app.geolocation.v1"
    assert topics.CONSENT == "privacy.consent.v1"
    assert topics.DEADLETTER == "pipeline.deadletter.v1"
    assert topics.DECISIONS == "pipeline.decisions.v1"
    assert topics.sanitized("advertising") == "sanitized.advertising.v1"


def test_specs_cover_every_topic_with_one_partition_count() -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_PARTITIONS": "4"})
    specs = {spec.name: spec for spec in topics.pipeline_specs(s, PURPOSES)}
    expected = {topics.NAVIGATION, topics.GEOLOCATION, topics.CONSENT, topics.DECISIONS,
                topics.DEADLETTER, topics.SUBJECT_KEYS}
    expected |= {topics.sanitized(p) for p in PURPOSES}
    assert set(specs) == expected
    assert {spec.partitions for spec in specs.values()} == {4}


def test_cleanup_and_retention() -> None:
    specs = {spec.name: spec for spec in topics.pipeline_specs(Settings(), ["advertising"])}
    day, hour, month = str(86_400_000), str(3_600_000), str(30 * 86_400_000)
    raw = {"cleanup.policy": "delete", "retention.ms": day, "segment.ms": hour,
           "message.timestamp.type": "LogAppendTime"}
    assert specs[topics.NAVIGATION].configs == raw
    assert specs[topics.GEOLOCATION].configs == raw
    assert specs[topics.CONSENT].configs == {
        "cleanup.policy": "compact", "segment.ms": hour,
        "max.compaction.lag.ms": str(25 * 3_600_000), "delete.retention.ms": hour,
        "min.cleanable.dirty.ratio": "0.25",
        "message.timestamp.type": "LogAppendTime", "min.compaction.lag.ms": day,
    }  # fmt: skip  # consent is read as an input: kept whole as long as raw events
    assert specs[topics.DEADLETTER].configs == {"cleanup.policy": "delete", "retention.ms": month,
                                                "segment.ms": day}
    assert specs[topics.SUBJECT_KEYS].configs["cleanup.policy"] == "compact"
    assert specs[topics.SUBJECT_KEYS].configs["max.compaction.lag.ms"] == hour
    assert specs[topics.DECISIONS].configs["cleanup.policy"] == "delete"
    assert specs[topics.sanitized("advertising")].configs["cleanup.policy"] == "delete"


def test_policy_bounds_reach_the_topics() -> None:
    bounds = ErasureBounds(input_retention_hours=6, segment_hours=2, max_compaction_lag_hours=3,
                           delete_retention_hours=4, min_cleanable_dirty_ratio=0.1)
    specs = {s.name: s for s in topics.all_specs(Settings(), ["advertising"], bounds)}
    assert specs[topics.NAVIGATION].configs["retention.ms"] == str(6 * 3_600_000)
    assert specs[topics.GEOLOCATION].configs["segment.ms"] == str(2 * 3_600_000)
    compacted = [s for s in specs.values() if s.configs["cleanup.policy"] == "compact"]
    assert {s.name for s in compacted} == {topics.CONSENT, topics.SUBJECT_KEYS} | set(
        topics.TopicNames().changelogs
    )
    assert specs[topics.CONSENT].configs["min.compaction.lag.ms"] == str(6 * 3_600_000)
    assert specs[topics.CONSENT].configs["max.compaction.lag.ms"] == str(9 * 3_600_000)
    for spec in compacted:
        if spec.name != topics.CONSENT:
            assert spec.configs["max.compaction.lag.ms"] == str(3 * 3_600_000)
        assert spec.configs["delete.retention.ms"] == str(4 * 3_600_000)
        assert spec.configs["min.cleanable.dirty.ratio"] == "0.1"
    # Delete-policy topics get no compaction configs.
    assert "max.compaction.lag.ms" not in specs[topics.DECISIONS].configs


def test_any_compacted_spec_gets_the_compaction_bounds() -> None:
    """A compacted topic added later (e.g. privacy.subject-keys.v1) is covered by name-free rule."""
    spec = topics.TopicSpec(topics.SUBJECT_KEYS, 3, {"cleanup.policy": "compact,delete"})
    (out,) = with_erasure_compaction([spec], ErasureBounds())
    assert out.configs["max.compaction.lag.ms"] == str(3_600_000)
    assert out.configs["cleanup.policy"] == "compact,delete"


def test_duplicate_purposes_give_one_topic() -> None:
    names = [spec.name for spec in topics.pipeline_specs(Settings(), ["a", "a", "b"])]
    assert names.count("sanitized.a.v1") == 1


def test_prefix_renames_and_keeps_specs() -> None:
    specs = topics.all_specs(Settings(), ["advertising"])
    renamed = topics.all_specs(Settings(topic_prefix="run1."), ["advertising"])
    assert [r.name for r in renamed] == ["run1." + s.name for s in specs]
    assert [(r.partitions, r.configs) for r in renamed] == [
        (s.partitions, s.configs) for s in specs
    ]
