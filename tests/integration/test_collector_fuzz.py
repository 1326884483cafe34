"""Fuzz the running collector from its own OpenAPI document (schemathesis + hypothesis).

Each POST operation gets 100 schema-valid and 100 schema-invalid generated requests, so a
run sends a few hundred requests over real HTTP to a collector producing to the real broker.
No answer may be a 5xx (the documented 503 needs an unreachable broker, which this is not),
and every answer must match the document (status codes, content types, bodies).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from pipeline.collector.app import create_app
from pipeline.collector.auth import SCOPES, KeyStore, hash_key, new_key
from pipeline.collector.intake import CollectorTopics
from pipeline.collector.server import make_server
from pipeline.settings import Settings

WAIT_S = 20.0
KEY = new_key()
ALL_SCOPES = frozenset(SCOPES)  # every schema reaches validation, rights/1 included
CASES: dict[str, int] = {}


@pytest.fixture
def collector_url(settings: Settings, new_topic: Callable[..., str]) -> Iterator[str]:
    topics = CollectorTopics(new_topic(partitions=2), new_topic(partitions=2),
                             new_topic(partitions=2))
    s = dataclasses.replace(settings, collector_rate=1e6, collector_burst=1_000_000)
    app = create_app(s, topics=topics, keys=KeyStore([("fuzz", hash_key(KEY), ALL_SCOPES)]))
    server = make_server(app, "127.0.0.1", 0, "warning", configure_logging=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    while httpx.get(f"{url}/healthz").status_code != 200:
        assert time.monotonic() < deadline, "collector never became healthy"
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(WAIT_S)


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
OPERATIONS = [("/v1/events", "POST", MODES), ("/v1/consent", "POST", MODES),
              ("/healthz", "GET", MODES[:1])]
EXAMPLES = 100
# Schema-invalid requests must be refused with a documented 4xx: 413 (over maxItems or 1 MiB)
# is one, besides schemathesis's defaults.
REFUSED = [400, 401, 403, 413, 415, 422]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSED}}}
)
BATCHES = {"/v1/events", "/v1/consent"}


def _names_a_rejected_event(path: str, response: Any) -> bool:
    """Whether this is a batch answer of 202 naming at least one rejected event.

    Batches are accepted event by event (the document's 202): a batch where some events break
    the schema and others are valid is acknowledged for the valid ones, and its ``rejected``
    list names the bad ones. That is the schema-invalid request refused, one event at a time.
    """
    return path in BATCHES and response.status_code == 202 and bool(response.json()["rejected"])


@pytest.mark.parametrize(("path", "method", "modes"), OPERATIONS)
def test_no_server_error_and_answers_match_the_document(
    collector_url: str, path: str, method: str, modes: list[GenerationMode]
) -> None:
    api = schemathesis.openapi.from_url(f"{collector_url}/openapi.json", config=CONFIG)
    operation = api[path][method]
    sent: list[int] = []

    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            headers = {"Authorization": f"Bearer {KEY}"}
            response = case.call(headers=headers)
            assert response.status_code < 500, response.text
            refused_per_event = _names_a_rejected_event(path, response)
            case.validate_response(
                response, headers=headers,
                excluded_checks=[negative_data_rejection] if refused_per_event else None,
            )
            sent.append(response.status_code)

        call()
    CASES[f"{method} {path}"] = len(sent)
    assert sent, "no request was generated"


def test_zz_fuzz_ran_a_few_hundred_cases() -> None:
    # Runs after the fuzz tests (file order): proves the examples really were generated.
    assert sum(CASES.values()) >= 300, CASES
