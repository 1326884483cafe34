"""Client factories and the bounded broker wait, against a port where nothing listens."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pipeline import kafka as kafka_module
from pipeline.errors import BrokerUnavailable
from pipeline.kafka import make_admin, make_consumer, make_producer, probe, wait_for_broker
from pipeline.settings import Settings

NOBODY = Settings.from_env(
    {"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "127.0.0.1:9", "PRIVACY_PIPELINE_BROKER_WAIT_S": "1"}
)


def test_probe_is_false_when_nothing_answers() -> None:
    assert probe(NOBODY, 0.5) is False


def test_wait_for_broker_is_bounded_and_says_what_to_do() -> None:
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        wait_for_broker(NOBODY, timeout=1.0)
    assert time.monotonic() - start < 5.0
    message = str(info.value)
    assert "\n" not in message
    assert "127.0.0.1:9" in message and "privacy-pipeline broker start" in message


def test_factory_turns_bootstrap_timeout_into_broker_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the port dropped packets instead of refusing: the client's bounded wait decides.
    monkeypatch.setattr(kafka_module, "_refusal", lambda server: None)
    with pytest.raises(BrokerUnavailable, match="within 1 s"):
        make_admin(NOBODY)


@pytest.mark.parametrize("factory", [make_admin, make_producer, make_consumer])
def test_refused_connection_is_known_at_once(factory: Any) -> None:
    patient = Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "127.0.0.1:9,127.0.0.1:7",
                                 "PRIVACY_PIPELINE_BROKER_WAIT_S": "60"})
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="connection refused") as info:
        factory(patient)
    assert time.monotonic() - start < 2.0
    assert "privacy-pipeline broker start" in str(info.value)


def test_unknown_host_is_known_at_once() -> None:
    unknown = Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "no-such-host.invalid:9092",
                                 "PRIVACY_PIPELINE_BROKER_WAIT_S": "60"})
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="unknown host"):
        make_admin(unknown)
    assert time.monotonic() - start < 5.0
