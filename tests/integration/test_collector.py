"""The collector over real HTTP (uvicorn on a loopback port) against the real broker.

Topics are uuid-named (``new_topic``); the collector is given them through ``create_app``.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import pytest
from kafka import KafkaProducer, TopicPartition

from pipeline.collector.app import create_app
from pipeline.collector.auth import KeyStore, hash_key, new_key
from pipeline.collector.intake import CollectorTopics
from pipeline.collector.metrics import serve_collector_metrics
from pipeline.collector.producer import EventProducer
from pipeline.collector.server import make_server
from pipeline.kafka import make_consumer
from pipeline.settings import Settings
from schemas import validator

APP = {"name": "mm-app", "platform": "ios", "version": "4.2"}
WAIT_S = 20.0


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    server = make_server(app, "127.0.0.1", 0, "warning", configure_logging=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "collector did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(WAIT_S)


def wait_healthy(client: httpx.Client) -> None:
    deadline = time.monotonic() + WAIT_S
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "collector never became healthy"
        time.sleep(0.1)


@dataclasses.dataclass
class Collector:
    url: str
    key: str
    topics: CollectorTopics
    http: httpx.Client
    metrics_url: str

    def post(self, path: str, events: Any, **headers: str) -> httpx.Response:
        return self.http.post(path, content=msgspec.json.encode(events),
                              headers={"Content-Type": "application/json", **headers})


@pytest.fixture
def topics(new_topic: Callable[..., str]) -> CollectorTopics:
    return CollectorTopics(new_topic(partitions=3), new_topic(partitions=3),
                           new_topic(partitions=3))


@pytest.fixture
def collector(settings: Settings, topics: CollectorTopics) -> Iterator[Collector]:
    """A collector with the default policy (which keeps ip for fraud prevention)."""
    key = new_key()
    s = dataclasses.replace(settings, collector_rate=1e6, collector_burst=100_000)
    app = create_app(s, topics=topics, keys=KeyStore([("mm-app", hash_key(key))]))
    state = app.state.collector
    metrics_port = closed_port()
    server = serve_collector_metrics(state.metrics, lambda: state.producer.ready, "127.0.0.1",
                                     metrics_port)
    assert server is not None
    with running(app) as url, httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=WAIT_S
    ) as http:
        wait_healthy(http)
        yield Collector(url, key, topics, http, f"http://127.0.0.1:{metrics_port}")
    server.stop()


def nav(user: str, i: int, **extra: Any) -> dict[str, Any]:
    return {"schema": "navigation/1", "event_id": f"nav-{user}-{i}", "user_id": user,
            "occurred_at": "2026-11-26T10:15:00+01:00", "app": APP, "type": "screen_view",
            "screen": f"screen-{i}", **extra}


def geo(user: str, i: int) -> dict[str, Any]:
    return {"schema": "geolocation/1", "event_id": f"geo-{user}-{i}", "user_id": user,
            "occurred_at": "2026-11-26T10:15:00Z", "app": APP, "lat": 48.8566, "lon": 2.3522}


def consent(user: str, **extra: Any) -> dict[str, Any]:
    return {"schema": "consent/1", "event_id": f"consent-{user}", "user_id": user,
            "occurred_at": "2026-11-26T10:14:00Z", "purposes": {"advertising": True},
            "source": "banner", **extra}


def read_topic(settings: Settings, topic: str, expected: int, settle_s: float = 0.5) -> list[Any]:
    """Every event of ``topic``, one record each: waits for ``expected``, then ``settle_s`` more
    for extras. An envelope counts as its events (each a copy of its record with the event's
    bytes as value, as the worker reads it); :func:`read_messages` gives the records as sent."""
    return [event for record in read_messages(settings, topic, expected, settle_s)
            for event in events_of(record)]


def events_of(record: Any) -> list[Any]:
    """The events of a Kafka record: itself, or one copy per event of an envelope."""
    items = validator.decode_message(record.value, record.key)
    if items[0].index is None:
        return [record]
    return [record._replace(value=item.raw) for item in items]


def read_messages(
    settings: Settings, topic: str, expected: int, settle_s: float = 0.5
) -> list[Any]:
    """Every Kafka record of ``topic``: waits until they hold ``expected`` events."""
    consumer = make_consumer(settings, consumer_timeout_ms=200)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        events = 0
        deadline = time.monotonic() + WAIT_S
        while events < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
                events += sum(len(events_of(r)) for r in batch)
        settle = time.monotonic() + settle_s
        while time.monotonic() < settle:
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_accepted_event_is_in_its_topic_keyed_by_user_id(
    collector: Collector, settings: Settings, producer: KafkaProducer
) -> None:
    users = [f"user-{uuid.uuid4().hex[:10]}" for _ in range(12)]
    events = [nav(u, i) for i in range(5) for u in users] + [geo(u, 0) for u in users]
    answer = collector.post("/v1/events", events)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": len(events), "rejected": []}
    answer = collector.post("/v1/consent", [consent(u) for u in users])
    assert answer.status_code == 202 and answer.json()["accepted"] == len(users)

    # 202 was answered after the acks: the records are readable right away.
    got: dict[str, list[Any]] = {}
    for name, count in ((collector.topics.navigation, 60), (collector.topics.geolocation, 12),
                        (collector.topics.consent, 12)):
        got[name] = read_topic(settings, name, count)
        assert len(got[name]) == count
    sent = {e["event_id"]: e for e in events} | {f"consent-{u}": consent(u) for u in users}
    for records in got.values():
        for record in records:
            value = msgspec.json.decode(record.value)
            original = sent.pop(value["event_id"])
            assert record.key == original["user_id"].encode()
            assert {k: value[k] for k in original} == original
            assert value["ip"] == "127.0.0.1"  # the default policy keeps ip (fraud prevention)
    assert sent == {}

    # Co-partitioned: a user's events land on the partition number of their consent, also
    # when a CMP produces the consent straight to Kafka with the default partitioner.
    for user in users:
        producer.send(collector.topics.consent, key=user.encode(), value=b"{}")
    producer.flush(timeout=WAIT_S)
    consent_partitions: dict[bytes, set[int]] = {}
    for record in read_topic(settings, collector.topics.consent, 2 * len(users)):
        consent_partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in consent_partitions.values())
    assert len({p for parts in consent_partitions.values() for p in parts}) > 1
    for name in (collector.topics.navigation, collector.topics.geolocation):
        for record in got[name]:
            assert {record.partition} == consent_partitions[record.key]


def test_a_users_events_of_one_request_travel_as_one_envelope(
    collector: Collector, settings: Settings
) -> None:
    users = [f"user-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    batch = [nav(users[i % 3], i) for i in range(30)] + [geo(users[0], 30)]
    answer = collector.post("/v1/events", batch)
    assert answer.status_code == 202 and answer.json() == {"accepted": 31, "rejected": []}
    messages = read_messages(settings, collector.topics.navigation, 30)
    assert sorted(m.key for m in messages) == sorted(u.encode() for u in users)
    for message in messages:
        envelope = msgspec.json.decode(message.value)
        assert envelope["schema"] == "batch/1"
        user = message.key.decode()
        mine = [e["event_id"] for e in batch[:30] if e["user_id"] == user]
        assert [e["event_id"] for e in envelope["events"]] == mine  # request order kept
    [single] = read_messages(settings, collector.topics.geolocation, 1)
    assert msgspec.json.decode(single.value)["event_id"] == geo(users[0], 30)["event_id"]


def test_a_body_near_1_mib_of_one_user_is_split_into_envelopes_kafka_takes(
    collector: Collector, settings: Settings
) -> None:
    # 450 events filling a body just under 1 MiB: with the ip the collector adds, more than
    # one envelope holds, so it sends two, each of which the broker and client take.
    user = f"user-{uuid.uuid4().hex[:10]}"
    batch = [nav(user, i, referrer="r" * 2048) for i in range(450)]
    pad = (1024 * 1024 - 2_000 - len(msgspec.json.encode(batch))) // 450 - len(',"campaign":""')
    batch = [e | {"campaign": "c" * pad} for e in batch]
    assert 1024 * 1024 - 3_000 < len(msgspec.json.encode(batch)) <= 1024 * 1024
    answer = collector.post("/v1/events", batch)
    assert answer.status_code == 202 and answer.json()["accepted"] == 450
    messages = read_messages(settings, collector.topics.navigation, 450)
    assert len(messages) == 2
    assert all(len(m.value) <= 1024 * 1024 for m in messages)
    events = [e for m in messages for e in msgspec.json.decode(m.value)["events"]]
    assert [e["event_id"] for e in events] == [e["event_id"] for e in batch]


def test_partial_batch_reports_exact_indices_and_keeps_only_good_events(
    collector: Collector, settings: Settings
) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    batch: list[Any] = [nav(user, i) for i in range(10)]
    batch[1] = nav(user, 1) | {"lat": 1.0}                   # unknown field
    batch[4] = geo(user, 4) | {"lat": 91}                     # out of range
    batch[6] = {k: v for k, v in nav(user, 6).items() if k != "user_id"}  # missing field
    batch[7] = consent(user)                                  # wrong endpoint
    batch[9] = "not an event"
    answer = collector.post("/v1/events", batch)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 5
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "lat"), (4, "lat"), (6, "user_id"), (7, "schema"), (9, None)
    ]
    reasons = [r["reason"] for r in body["rejected"]]
    assert "unknown field" in reasons[0]
    assert reasons[1].startswith("lat: ") and "90" in reasons[1]
    assert "missing" in reasons[2]
    assert "/v1/consent" in reasons[3]
    assert user not in answer.text  # reasons never echo identifiers
    records = read_topic(settings, collector.topics.navigation, 5)
    ids = sorted(msgspec.json.decode(r.value)["event_id"] for r in records)
    assert ids == sorted(f"nav-{user}-{i}" for i in (0, 2, 3, 5, 8))
    assert read_topic(settings, collector.topics.geolocation, 0, settle_s=0.3) == []


def test_all_invalid_batch_is_400_with_the_rejections(collector: Collector) -> None:
    answer = collector.post("/v1/events", [{"schema": "navigation/1"}, 3])
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "no_valid_event" and body["accepted"] == 0
    assert [r["index"] for r in body["rejected"]] == [0, 1]


def test_wrong_or_missing_key_is_401(collector: Collector) -> None:
    event = [nav("u-auth", 0)]
    body = msgspec.json.encode(event)
    ctype = {"Content-Type": "application/json"}
    with httpx.Client(base_url=collector.url, timeout=WAIT_S) as anon:
        missing = anon.post("/v1/events", content=body, headers=ctype)
        wrong = anon.post("/v1/events", content=body,
                          headers=ctype | {"Authorization": f"Bearer {new_key()}"})
        header = anon.post("/v1/events", content=body, headers=ctype | {"X-API-Key": collector.key})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"] == "unauthorized"
    assert header.status_code == 202


def test_size_type_and_syntax_errors(collector: Collector) -> None:
    too_big = b"[" + b" " * (1024 * 1024) + b"]"
    answer = collector.http.post("/v1/events", content=too_big,
                                 headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"
    answer = collector.post("/v1/events", [nav("u", i) for i in range(501)])
    assert answer.status_code == 413 and "500" in answer.json()["message"]
    answer = collector.http.post("/v1/events", content=b"[]",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415 and "application/json" in answer.json()["message"]
    answer = collector.http.post("/v1/events", content=b'[{"a":', headers={
        "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_json"
    answer = collector.post("/v1/events", {"events": []})
    assert answer.status_code == 400 and answer.json()["error"] == "not_an_array"
    answer = collector.http.post("/v1/events", content=b"true x", headers={
        "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_json"
    assert collector.post("/v1/events", []).json() == {"accepted": 0, "rejected": []}


def test_gpc_header_is_recorded_on_consent(collector: Collector, settings: Settings) -> None:
    with_gpc, without = f"user-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    assert collector.post("/v1/consent", [consent(with_gpc)], **{"Sec-GPC": "1"}).status_code == 202
    assert collector.post("/v1/consent", [consent(without)]).status_code == 202
    values = {r.key.decode(): msgspec.json.decode(r.value)
              for r in read_topic(settings, collector.topics.consent, 2)}
    assert values[with_gpc]["gpc"] is True
    assert "gpc" not in values[without]


def test_client_ip_attached_when_the_policy_keeps_it(
    collector: Collector, settings: Settings
) -> None:
    # The default policy encrypts ip for fraud_prevention, so the collector attaches it.
    answer = collector.post("/v1/events", [nav("u-ip", 0, ip="198.51.100.23")])
    assert answer.status_code == 202
    (record,) = read_topic(settings, collector.topics.navigation, 1)
    assert msgspec.json.decode(record.value)["ip"] == "127.0.0.1"  # observed, not claimed


def test_ip_removed_when_the_policy_drops_it(settings: Settings, topics: CollectorTopics) -> None:
    key = new_key()
    app = create_app(settings, topics=topics, keys=KeyStore([("a", hash_key(key))]),
                     keep_ip=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        wait_healthy(http)
        answer = http.post("/v1/events", json=[nav("u-ip", 0, ip="198.51.100.23")],
                           headers={"X-API-Key": key})
        assert answer.status_code == 202
    (record,) = read_topic(settings, topics.navigation, 1)
    assert "ip" not in msgspec.json.decode(record.value)


def test_rate_limit_per_key_is_429_with_retry_after(
    settings: Settings, topics: CollectorTopics
) -> None:
    slow, other = new_key(), new_key()
    s = dataclasses.replace(settings, collector_rate=5.0, collector_burst=100)
    app = create_app(s, topics=topics, keep_ip=False,
                     keys=KeyStore([("slow", hash_key(slow)), ("other", hash_key(other))]))
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        wait_healthy(http)
        batch = [nav("u-rate", i) for i in range(100)]
        first = http.post("/v1/events", json=batch, headers={"X-API-Key": slow})
        second = http.post("/v1/events", json=batch[:50], headers={"X-API-Key": slow})
        third = http.post("/v1/events", json=batch[:50], headers={"X-API-Key": other})
    assert first.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"] == "rate_limited"
    assert 1 <= int(second.headers["retry-after"]) <= 10  # 50 events at 5 events/s
    assert third.status_code == 202  # another key has its own bucket


def test_kafka_unreachable_is_503_with_retry_after(topics: CollectorTopics) -> None:
    key = new_key()
    dead = Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
                              "PRIVACY_PIPELINE_BROKER_WAIT_S": "1"})
    app = create_app(dead, topics=topics, keys=KeyStore([("a", hash_key(key))]), keep_ip=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        started = time.monotonic()
        answer = http.post("/v1/events", json=[nav("u-503", 0)], headers={"X-API-Key": key})
        assert time.monotonic() - started < 5
        health = http.get("/healthz")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == "kafka_unavailable"
    assert "retry the whole batch" in answer.json()["message"]
    assert health.status_code == 503 and health.json() == {"status": "unavailable"}


def test_kafka_lost_after_connecting_is_503_within_the_bound(topics: CollectorTopics) -> None:
    # A producer that skips bootstrap (api_version given) behaves like one whose broker went
    # away: sends cannot complete, and the collector must answer 503 within its timeout.
    port = closed_port()

    def factory() -> Any:
        return KafkaProducer(bootstrap_servers=[f"127.0.0.1:{port}"], api_version=(3, 9),
                             enable_idempotence=True, acks="all", max_block_ms=1500,
                             reconnect_backoff_max_ms=200)

    key = new_key()
    s = Settings.from_env({"PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"})
    app = create_app(s, topics=topics, keys=KeyStore([("a", hash_key(key))]), keep_ip=False,
                     producer=EventProducer(factory, timeout_s=2.0), probe=lambda: False)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        deadline = time.monotonic() + WAIT_S
        while not app.state.collector.producer.ready:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        answer = http.post("/v1/events", json=[nav("u-503", 0)], headers={"X-API-Key": key})
        elapsed = time.monotonic() - started
        metrics = app.state.collector.metrics.render().decode()
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert 1.0 <= elapsed < 4.0
    assert "collector_produce_failures_total 1.0" in metrics


def test_metrics_count_requests_events_and_reasons(collector: Collector) -> None:
    batch = [nav("u-m", 0), nav("u-m", 1) | {"lat": 1}, geo("u-m", 2) | {"lat": 95}]
    assert collector.post("/v1/events", batch).status_code == 202
    collector.http.post("/v1/events", content=b"[]", headers={"Content-Type": "text/csv"})
    text = httpx.get(f"{collector.metrics_url}/metrics", timeout=WAIT_S).text
    assert 'collector_events_accepted_total{schema="navigation/1"} 1.0' in text
    assert 'collector_events_rejected_total{reason="unknown_field"} 1.0' in text
    assert 'collector_events_rejected_total{reason="invalid_lat"} 1.0' in text
    assert 'collector_requests_total{route="/v1/events",status="202"} 1.0' in text
    assert 'collector_requests_total{route="/v1/events",status="415"} 1.0' in text
    assert "collector_produce_seconds_count 1.0" in text


def test_metrics_are_off_the_public_port(collector: Collector) -> None:
    # Request counts per route and status are for the operator: not served to the public,
    # with or without an app key; the local metrics port serves them and a health check.
    assert collector.http.get("/metrics").status_code == 404
    assert httpx.get(f"{collector.url}/metrics", timeout=WAIT_S).status_code == 404
    assert "/metrics" not in collector.http.get("/openapi.json").json()["paths"]
    scraped = httpx.get(f"{collector.metrics_url}/metrics", timeout=WAIT_S)
    assert scraped.status_code == 200 and "collector_requests_total" in scraped.text
    health = httpx.get(f"{collector.metrics_url}/healthz", timeout=WAIT_S)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def test_cors_allows_configured_origins_only(settings: Settings, topics: CollectorTopics) -> None:
    s = dataclasses.replace(settings, collector_cors="https://www.example.fr")
    app = create_app(s, topics=topics, keys=KeyStore([]), keep_ip=False)
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        ok = http.options("/v1/events", headers=preflight | {"Origin": "https://www.example.fr"})
        other = http.options("/v1/events", headers=preflight | {"Origin": "https://evil.example"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://www.example.fr"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


def test_openapi_document_describes_the_api(collector: Collector) -> None:
    doc = collector.http.get("/openapi.json").json()
    post = doc["paths"]["/v1/events"]["post"]
    assert {"202", "400", "401", "413", "415", "429", "503"} <= set(post["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["maxItems"] == 500
    assert doc["components"]["schemas"]["Navigation"]["additionalProperties"] is False
    assert "/v1/consent" in doc["paths"] and "/healthz" in doc["paths"]
