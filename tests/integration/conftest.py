"""Integration fixtures: the real broker named by ``PRIVACY_PIPELINE_BOOTSTRAP_SERVERS``.

An unreachable broker FAILS every integration test (no skips): ``make test`` starts one, and a
silent skip would report a green suite that tested nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from pipeline.errors import BrokerUnavailable
from pipeline.kafka import make_admin, make_producer, wait_for_broker
from pipeline.settings import Settings

_REACH_TIMEOUT_S = 20.0

NewTopic = Callable[..., str]


@pytest.fixture(scope="session", autouse=True)
def broker_reachable(settings: Settings) -> None:
    """Fail (not skip) the integration tests when no broker answers within a bounded wait."""
    try:
        wait_for_broker(settings, timeout=min(settings.broker_wait_s, _REACH_TIMEOUT_S))
    except BrokerUnavailable as exc:
        pytest.fail(f"integration tests need a running broker (run `make test`): {exc}")


@pytest.fixture(scope="session")
def admin(settings: Settings, broker_reachable: None) -> Iterator[KafkaAdminClient]:
    """One admin client for the session."""
    client = make_admin(settings)
    yield client
    client.close()


@pytest.fixture
def new_topic(admin: KafkaAdminClient) -> Iterator[NewTopic]:
    """Factory ``new_topic(partitions=1, **configs) -> name`` of a fresh uuid-named topic.

    Config names may be written with underscores (``cleanup_policy="compact"``) or passed
    with dots via ``**{"cleanup.policy": "compact"}``. Topics are deleted at teardown.
    """
    created: list[str] = []

    def make(partitions: int = 1, **configs: Any) -> str:
        name = f"test-{uuid.uuid4().hex}"
        topic_configs = {k.replace("_", "."): str(v) for k, v in configs.items()}
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": -1,
                    "configs": topic_configs}},
            wait_for_metadata=True,
        )  # fmt: skip
        created.append(name)
        return name

    yield make
    if created:
        admin.delete_topics(created, raise_errors=False)


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    """An idempotent producer from :func:`pipeline.kafka.make_producer` (bytes in, bytes out)."""
    client = make_producer(settings)
    yield client
    client.close(timeout=10)
