"""Topic names and specs (DESIGN.md section 3); creation is covered by the integration tests."""

from __future__ import annotations

from pipeline import topics
from pipeline.settings import Settings

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
    week, month = str(7 * 86_400_000), str(30 * 86_400_000)
    assert specs[topics.NAVIGATION].configs == {"cleanup.policy": "delete", "retention.ms": week}
    assert specs[topics.GEOLOCATION].configs == {"cleanup.policy": "delete", "retention.ms": week}
    assert specs[topics.CONSENT].configs == {"cleanup.policy": "compact"}
    assert specs[topics.SUBJECT_KEYS].configs["cleanup.policy"] == "compact"
    assert specs[topics.DEADLETTER].configs == {"cleanup.policy": "delete", "retention.ms": month}
    assert specs[topics.DECISIONS].configs["cleanup.policy"] == "delete"
    assert specs[topics.sanitized("advertising")].configs["cleanup.policy"] == "delete"


def test_duplicate_purposes_give_one_topic() -> None:
    names = [spec.name for spec in topics.pipeline_specs(Settings(), ["a", "a", "b"])]
    assert names.count("sanitized.a.v1") == 1


def test_prefix_renames_and_keeps_specs() -> None:
    specs = topics.pipeline_specs(Settings(), ["advertising"])
    renamed = topics.with_prefix(specs, "run1.")
    assert [r.name for r in renamed] == ["run1." + s.name for s in specs]
    assert [(r.partitions, r.configs) for r in renamed] == [
        (s.partitions, s.configs) for s in specs
    ]
    assert topics.with_prefix(specs, "") == specs
