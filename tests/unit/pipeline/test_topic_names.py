"""TopicNames: every topic, group and changelog name, as DESIGN.md section 3 and the worker's
faust app give them, under the empty prefix and a test prefix."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.topics import WORKER_TABLES, TopicNames, all_specs

DESIGN = Path(__file__).resolve().parents[3] / "docs" / "DESIGN.md"
TABLES = ("consent", "held", "held_event", "erased", "rights_audit", "rights_audit_entry")


def _design_topics() -> set[str]:
    """The topic names of the table in DESIGN.md section 3 (``<purpose>`` as written)."""
    text = DESIGN.read_text("utf-8")
    section = text.split("## 3. Topics", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", section, re.MULTILINE)}


@pytest.mark.parametrize("prefix", ["", "it0123456789."])
def test_every_name_is_the_contract_one_under_the_prefix(prefix: str) -> None:
    n = TopicNames(prefix)
    assert n.navigation == prefix + "app.navigation.v1"
    assert n.geolocation == prefix + "app.geolocation.v1"
    assert n.consent == prefix + "privacy.consent.v1"
    assert n.deadletter == prefix + "pipeline.deadletter.v1"
    assert n.decisions == prefix + "pipeline.decisions.v1"
    assert n.subject_keys == prefix + "privacy.subject-keys.v1"
    assert n.sanitized("advertising") == prefix + "sanitized.advertising.v1"
    assert n.inputs == (n.navigation, n.geolocation, n.consent)
    # The worker group is the faust app id; faust names a table's changelog after both.
    assert n.worker_group == prefix + "privacy-pipeline"
    assert n.changelog("consent") == prefix + "privacy-pipeline-consent-changelog"
    assert n.changelog("rights_audit_entry") == (
        prefix + "privacy-pipeline-rights_audit_entry-changelog")
    assert n.changelogs == tuple(f"{prefix}privacy-pipeline-{t}-changelog" for t in TABLES)
    assert n.leftovers == (prefix + "privacy-pipeline-__assignor-__leader",)


def test_the_names_are_those_of_the_design_table() -> None:
    listed = _design_topics()
    assert len(listed) == 7, listed  # guards the parse: the table has seven rows
    n = TopicNames()
    built = {n.navigation, n.geolocation, n.consent, n.deadletter, n.decisions, n.subject_keys,
             n.sanitized("<purpose>")}
    assert built == listed


def test_the_inputs_by_contract_name_and_their_streams() -> None:
    n = TopicNames("t1.")
    assert n.inputs_by_contract() == {
        "app.navigation.v1": "t1.app.navigation.v1",
        "app.geolocation.v1": "t1.app.geolocation.v1",
        "privacy.consent.v1": "t1.privacy.consent.v1",
    }
    assert [n.stream_of(t) for t in n.inputs] == ["navigation", "geolocation", "consent"]
    # Another prefix's input is not this one's navigation: it falls to consent, as before.
    assert TopicNames("t2.").stream_of(n.navigation) == "consent"


def test_a_table_without_a_faust_changelog_is_refused() -> None:
    """subject_keys' changelog is the product topic, and a typo must not name a topic nobody
    creates (the worker's preflight would refuse to start on it)."""
    assert WORKER_TABLES == TABLES
    for wrong in ("subject_keys", "consents", ""):
        with pytest.raises(ValueError, match="not one of the worker tables"):
            TopicNames().changelog(wrong)


def test_from_settings_takes_the_prefix_and_names_are_immutable() -> None:
    n = TopicNames.from_settings(Settings.from_env({"PRIVACY_PIPELINE_TOPIC_PREFIX": "run1."}))
    assert n == TopicNames("run1.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.prefix = "other."  # type: ignore[misc]


def test_topics_creates_every_name_the_services_use() -> None:
    """`privacy-pipeline topics` creates what TopicNames names, under the same prefix."""
    s = Settings.from_env({"PRIVACY_PIPELINE_TOPIC_PREFIX": "run1."})
    n = TopicNames.from_settings(s)
    created = {spec.name for spec in all_specs(s, ["advertising", "geolocation"])}
    assert created == {*n.inputs, n.deadletter, n.decisions, n.subject_keys,
                       n.sanitized("advertising"), n.sanitized("geolocation"), *n.changelogs}
