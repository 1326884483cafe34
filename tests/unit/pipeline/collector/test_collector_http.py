"""The collector's HTTP surface without a broker: error shapes, browser intake, tracker, /docs.

Kafka is a small fake that acknowledges every record (the real producer is exercised against the
broker in tests/integration/test_collector*.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from kafka.future import Future

from pipeline.collector import handlers, tracker
from pipeline.collector.app import create_app
from pipeline.collector.auth import KeyStore, hash_key, new_key, query_key
from pipeline.collector.producer import EventProducer
from pipeline.collector.routes import problem_response
from pipeline.settings import Settings

KEY = new_key()
APP = {"name": "web", "platform": "web", "version": "1"}


class AckingKafka:
    """Acknowledges every send at once; remembers (topic, key, value)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def partitions_for(self, _topic: str) -> set[int]:
        return {0}

    def send(self, topic: str, value: bytes, key: bytes, partition: int,
             headers: Any = None) -> Future:
        self.sent.append((topic, key, value))
        future = Future()
        threading.Timer(0.001, future.success, args=(None,)).start()
        return future

    def close(self, timeout: float | None = None) -> None:
        pass


@pytest.fixture
def kafka() -> AckingKafka:
    return AckingKafka()


@pytest.fixture
def client(kafka: AckingKafka) -> Iterator[TestClient]:
    settings = dataclasses.replace(Settings.from_env({}), collector_cors="https://shop.example")
    app = create_app(settings, producer=EventProducer(lambda: kafka, 5.0), probe=lambda: True,
                     keys=KeyStore([("web", hash_key(KEY))]), keep_ip=False)

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as http:
        yield http


def nav(i: int = 0) -> dict[str, Any]:
    return {"schema": "navigation/1", "event_id": f"e{i}", "user_id": "u1", "app": APP,
            "occurred_at": "2026-11-26T10:15:00+01:00", "type": "page_view", "screen": "/"}


def rights() -> dict[str, Any]:
    return {"schema": "rights/1", "event_id": "r1", "user_id": "u1", "right": "erasure",
            "occurred_at": "2026-11-26T10:15:00Z"}


def consent() -> dict[str, Any]:
    return {"schema": "consent/1", "event_id": "c1", "user_id": "u1", "purposes": {},
            "source": "banner", "occurred_at": "2026-11-26T10:15:00Z", "tcf": "CQabc"}


def assert_problem(answer: Any, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error", "message"} and body["error"] == error, body
    return str(body["message"])


def beacon(client: TestClient, path: str, body: bytes, key: str = KEY) -> Any:
    return client.post(path, params={"key": key}, content=body,
                       headers={"Content-Type": "text/plain;charset=UTF-8"})


# -- one error shape --------------------------------------------------------------------------

def test_unknown_path_is_404_in_the_common_shape(client: TestClient) -> None:
    message = assert_problem(client.get("/v1/users/u-secret-1"), 404, "not_found")
    assert "/docs" in message and "u-secret-1" not in message


def test_wrong_method_is_405_in_the_common_shape_with_allow(client: TestClient) -> None:
    answer = client.get("/v1/events")
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "POST"


def test_unexpected_failure_is_500_in_the_common_shape(client: TestClient) -> None:
    message = assert_problem(client.get("/boom"), 500, "internal_error")
    assert "a bug" not in message


def test_invalid_parameter_is_422_naming_the_parameter_not_its_value() -> None:
    error = RequestValidationError([{"loc": ("query", "limit"), "msg": "bad", "input": "u-7"}])
    answer = problem_response(handlers.http_problem(409))
    assert msgspec.json.decode(answer.body) == {"error": "conflict", "message": "Conflict"}
    shaped = asyncio.run(handlers.on_invalid_request(None, error))  # type: ignore[arg-type]
    body = msgspec.json.decode(shaped.body)
    assert shaped.status_code == 422 and body["error"] == "invalid_request"
    assert "limit" in body["message"] and "u-7" not in body["message"]


# -- bodies that are not a JSON array ------------------------------------------------------------

@pytest.mark.parametrize("body", [b"hello", b"a=1&b=2", b"true x", b'"x" y', b"1e999", b"<html>"])
def test_a_body_that_is_not_json_says_so(client: TestClient, body: bytes) -> None:
    answer = client.post("/v1/events", content=body, headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert "not valid JSON" in assert_problem(answer, 400, "malformed_json")


def test_an_empty_body_says_so(client: TestClient) -> None:
    answer = beacon(client, "/v1/events", b"  ")
    assert "empty" in assert_problem(answer, 400, "malformed_json")


@pytest.mark.parametrize(("body", "kind"), [(b'{"events": []}', "an object"), (b"12", "a number"),
                                            (b'"x"', "a string"), (b"null", "null")])
def test_json_that_is_not_an_array_names_what_it_is(
    client: TestClient, body: bytes, kind: str
) -> None:
    answer = beacon(client, "/v1/events", body)
    assert f"JSON but {kind}, not an array" in assert_problem(answer, 400, "not_an_array")


def test_form_bodies_are_415(client: TestClient) -> None:
    answer = client.post("/v1/events", params={"key": KEY}, content=b"a=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "text/plain" in assert_problem(answer, 415, "unsupported_media_type")


# -- browser intake: ?key= and text/plain ------------------------------------------------------

def test_query_key_and_text_plain_carry_events_and_consent(
    client: TestClient, kafka: AckingKafka
) -> None:
    answer = beacon(client, "/v1/events", msgspec.json.encode([nav(0), nav(1)]))
    assert answer.status_code == 202 and answer.json() == {"accepted": 2, "rejected": []}
    answer = beacon(client, "/v1/consent", msgspec.json.encode([consent()]))
    assert answer.status_code == 202
    # One user's events of a request share a message: e0 and e1 travel in one envelope.
    sent = [(key, msgspec.json.decode(v)) for _, key, v in kafka.sent]
    assert [(key, [e["event_id"] for e in v.get("events", [v])]) for key, v in sent] == [
        (b"u1", ["e0", "e1"]), (b"u1", ["c1"])]


def test_query_key_may_not_carry_rights_requests(client: TestClient, kafka: AckingKafka) -> None:
    answer = beacon(client, "/v1/consent", msgspec.json.encode([consent(), rights()]))
    message = assert_problem(answer, 403, "key_in_url_not_allowed")
    assert "rights/1" in message and "Authorization" in message
    assert kafka.sent == []  # nothing of the batch, not even the consent
    header = client.post("/v1/consent", content=msgspec.json.encode([rights()]),
                         headers={"X-API-Key": KEY, "Content-Type": "text/plain"})
    # The same event with the key in a header meets the key's scopes instead: this browser
    # key (events, consent) has no 'rights' scope, the DPO's back office key has.
    assert header.status_code == 403 and header.json()["error"] == "forbidden_scope"


def test_wrong_query_key_is_401(client: TestClient) -> None:
    answer = beacon(client, "/v1/events", b"[]", key=new_key())
    assert "?key=" in assert_problem(answer, 401, "unauthorized")


def test_a_header_key_wins_over_the_query_key(client: TestClient) -> None:
    answer = client.post("/v1/consent", params={"key": KEY}, content=b"[]",
                         headers={"Authorization": f"Bearer {new_key()}"})
    assert_problem(answer, 401, "unauthorized")


def test_query_key_extraction() -> None:
    assert query_key({"key": " ppk_x "}) == "ppk_x"
    assert query_key({"key": " "}) is None and query_key({}) is None


def test_simple_cross_origin_post_gets_cors_headers(client: TestClient) -> None:
    answer = client.post("/v1/events", params={"key": KEY}, content=b"[]",
                         headers={"Content-Type": "text/plain", "Origin": "https://shop.example"})
    assert answer.status_code == 202
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"


# -- the tracker -------------------------------------------------------------------------------

def test_tracker_build_is_from_the_current_source() -> None:
    version, digest = tracker.build_header(tracker.minified())
    assert digest == hashlib.sha256(tracker.source()).hexdigest(), (
        "tracker.min.js is stale: run scripts/build-tracker.sh")
    assert f"var VERSION = '{version}'" in tracker.source().decode()
    assert version == tracker.VERSION


def test_tracker_is_cacheable_and_revalidates(client: TestClient) -> None:
    answer = client.get("/v1/tracker.js")
    assert answer.status_code == 200 and answer.content == tracker.minified()
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == f"public, max-age={tracker.LATEST_MAX_AGE_S}"
    etag = answer.headers["etag"]
    again = client.get("/v1/tracker.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    pinned = client.get("/v1/tracker.js", params={"v": tracker.VERSION})
    assert pinned.headers["cache-control"] == tracker.VERSIONED_CACHE
    other = client.get("/v1/tracker.js", params={"v": "0.0.0-old"})
    assert "immutable" not in other.headers["cache-control"]


def test_tracker_module_variant_exports_the_api(client: TestClient) -> None:
    script, module = client.get("/v1/tracker.js"), client.get("/v1/tracker.mjs")
    assert module.content.startswith(script.content)
    assert module.headers["etag"] != script.headers["etag"]
    tail = module.content[len(script.content):].decode()
    for name in ("init", "identify", "page", "geolocation", "consent", "flush"):
        assert re.search(rf"export const {{[^}}]*\b{name}\b", tail)
    assert "export default" in tail


def test_tracker_sets_no_cookie_and_reads_no_fingerprint_source() -> None:
    code = tracker.source().decode()
    for api in ("document.cookie", "userAgent", "screen.width", "getContext", "plugins",
                "hardwareConcurrency", "deviceMemory", "languages", "getTimezoneOffset"):
        assert api not in code


# -- /docs offline ---------------------------------------------------------------------------

def test_docs_page_loads_its_assets_from_the_collector(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text) + re.findall(
        r"""url: ?["']([^"']+)""", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
