"""The worker's faust app never creates a topic: pinned against the installed faust.

``topic_allow_declare=False`` is the switch; faust checks it in ``Topic.declare`` (inputs,
outputs, table changelogs) and in the producer's ``create_topic``. If a faust upgrade stops
honouring it, these tests fail before a worker creates 1-partition topics on a real broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pipeline.settings import Settings
from processors.worker import create_app
from processors.worker.app import faust_app


class NoProducer:
    """Stands for faust's producer: any topic creation through it fails the test."""

    async def create_topic(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"faust tried to create topic {args[0] if args else kwargs}")


@pytest.fixture
def app() -> Any:
    bare = faust_app(Settings.from_env({}), "no-declare-test")
    bare.producer = NoProducer()
    return bare


def test_switches_are_off(app: Any) -> None:
    assert app.conf.topic_allow_declare is False
    assert app.conf.topic_disable_leader is True


def test_topic_declare_creates_nothing(app: Any) -> None:
    topic = app.topic("some.input.v1", key_type=bytes, value_type=bytes)

    async def get_producer() -> NoProducer:
        return NoProducer()

    topic._get_producer = get_producer
    asyncio.run(topic.declare())


def test_table_changelog_declare_creates_nothing(app: Any) -> None:
    table = app.Table("state", key_type=bytes, value_type=bytes, partitions=6)
    changelog = table.changelog_topic

    async def get_producer() -> NoProducer:
        return NoProducer()

    changelog._get_producer = get_producer
    asyncio.run(changelog.declare())
    assert changelog.get_topic_name() == "no-declare-test-state-changelog"


def test_changelog_names_match_the_topics_command() -> None:
    # `privacy-pipeline topics` creates the changelogs the worker's tables use.
    from pipeline import topics

    bare = faust_app(Settings.from_env({}))
    for name in topics.WORKER_TABLES:
        table = bare.Table(name, key_type=bytes, value_type=bytes, partitions=6)
        assert table.changelog_topic.get_topic_name() == topics.TopicNames().changelog(name)


def test_topics_creates_the_changelog_of_every_worker_table() -> None:
    """`topics` creates each table's changelog: a table added to the worker without its
    changelog in ``WORKER_TABLES`` would make the worker's preflight refuse to start."""
    from pipeline import topics

    settings = Settings.from_env({})
    app = create_app(settings).app
    assert set(app.tables) == set(topics.WORKER_TABLES) | {"subject_keys"}
    created = {s.name for s in topics.all_specs(settings, [])}
    # subject_keys' changelog is the product topic privacy.subject-keys.v1 (pipeline_specs).
    assert {t.changelog_topic.get_topic_name() for t in app.tables.values()} <= created
