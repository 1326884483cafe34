"""The collector's trust boundary over real HTTP against the real broker (issue 11).

An attacker holds an app's key (apps ship them): scopes keep rights/1 out of reach, subject
tokens keep consent and rights bound to the logged-in user, forwarded headers are believed
only from trusted proxies, parser refusals are 400s and every request costs a token.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from pipeline.collector.app import create_app
from pipeline.collector.auth import KeyStore, hash_key, new_key
from pipeline.collector.intake import CollectorTopics
from pipeline.settings import Settings
from tests.integration.test_collector import (
    WAIT_S,
    consent,
    nav,
    read_topic,
    running,
    wait_healthy,
)
from tests.subject_tokens import AUDIENCE, ISSUER, IdentityProvider

APP_KEY, DPO_KEY, EVENTS_KEY = new_key(), new_key(), new_key()
KEYS = KeyStore([
    ("mm-app", hash_key(APP_KEY)),  # an old entry: events+consent
    ("dpo", hash_key(DPO_KEY), frozenset({"rights"})),
    ("web", hash_key(EVENTS_KEY), frozenset({"events"})),
])


def rights(user: str, right: str = "erasure") -> dict[str, Any]:
    return {"schema": "rights/1", "event_id": f"rights-{uuid.uuid4().hex}", "user_id": user,
            "occurred_at": "2026-11-26T10:16:00Z", "right": right}


def user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topics(new_topic: Callable[..., str]) -> CollectorTopics:
    return CollectorTopics(new_topic(partitions=2), new_topic(partitions=2),
                           new_topic(partitions=2))


@contextmanager
def collector(settings: Settings, topics: CollectorTopics, **env: Any) -> Iterator[httpx.Client]:
    s = dataclasses.replace(settings, collector_rate=1e6, collector_burst=100_000, **env)
    app = create_app(s, topics=topics, keys=KEYS, keep_ip=True)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        wait_healthy(http)
        yield http


def post(http: httpx.Client, path: str, key: str, events: Any, **headers: str) -> httpx.Response:
    return http.post(path, content=msgspec.json.encode(events), headers={
        "Content-Type": "application/json", "X-API-Key": key, **headers})


def test_rights_need_the_rights_scope_and_nothing_reaches_kafka(
    settings: Settings, topics: CollectorTopics
) -> None:
    victim = user()
    with collector(settings, topics) as http:
        alone = post(http, "/v1/consent", APP_KEY, [rights(victim)])
        mixed = post(http, "/v1/consent", APP_KEY, [consent(victim), rights(victim)])
        events_only = post(http, "/v1/consent", EVENTS_KEY, [consent(victim)])
        dpo_events = post(http, "/v1/events", DPO_KEY, [nav(victim, 0)])
        dpo = post(http, "/v1/consent", DPO_KEY, [rights(victim, "access")])
    assert alone.status_code == 403 and alone.json()["error"] == "forbidden_scope"
    assert "'rights'" in alone.json()["message"] and alone.json()["forbidden"] == [0]
    # A mixed batch is refused whole: the consent/1 of index 0 is not produced either.
    assert mixed.status_code == 403 and mixed.json()["forbidden"] == [1]
    assert events_only.status_code == 403 and dpo_events.status_code == 403
    assert dpo.status_code == 202, dpo.text
    records = read_topic(settings, topics.consent, 1, settle_s=1.0)
    assert [msgspec.json.decode(r.value)["right"] for r in records] == ["access"]
    assert read_topic(settings, topics.navigation, 0, settle_s=0.2) == []


def test_subject_tokens_bind_consent_to_the_logged_in_user(
    settings: Settings, topics: CollectorTopics, tmp_path: Path
) -> None:
    idp, forger = IdentityProvider(), IdentityProvider()
    me, other = user(), user()
    bound = {"collector_subject_jwks": idp.write_jwks(tmp_path / "jwks.json"),
             "collector_subject_issuer": ISSUER, "collector_subject_audience": AUDIENCE}
    refused = {
        "another subject": idp.token(other),
        "expired": idp.token(me, expires_in=-600),
        "wrong issuer": idp.token(me, issuer="https://evil.example"),
        "forged signature": forger.token(me),
    }
    with collector(settings, topics, **bound) as http:
        valid = post(http, "/v1/consent", APP_KEY, [consent(me)],
                     **{"X-Subject-Token": idp.token(me)})
        answers = {name: post(http, "/v1/consent", APP_KEY, [consent(me)],
                              **{"X-Subject-Token": token}) for name, token in refused.items()}
        missing = post(http, "/v1/consent", APP_KEY, [consent(me)])
        partial = post(http, "/v1/consent", APP_KEY, [consent(me), consent(other)],
                       **{"X-Subject-Token": idp.token(me, kid="ec-1")})
    assert valid.status_code == 202 and valid.json() == {"accepted": 1, "rejected": []}
    reasons = {name: a.json()["rejected"][0]["reason"] for name, a in answers.items()}
    assert all(a.status_code == 400 for a in answers.values()), reasons
    assert "not the subject" in reasons["another subject"]
    assert "expired" in reasons["expired"]
    assert "another issuer" in reasons["wrong issuer"]
    assert "signature" in reasons["forged signature"]
    assert missing.status_code == 400 and "missing" in missing.json()["rejected"][0]["reason"]
    assert partial.status_code == 202
    assert [r["index"] for r in partial.json()["rejected"]] == [1]
    records = read_topic(settings, topics.consent, 2, settle_s=1.0)
    assert [r.key.decode() for r in records] == [me, me]  # the other user's never got in
    assert all(dict(r.headers) == {"pp-subject-verified": b"1"} for r in records)


def test_unbound_consent_is_marked_unverified(
    settings: Settings, topics: CollectorTopics, caplog: pytest.LogCaptureFixture
) -> None:
    me = user()
    with caplog.at_level(logging.WARNING, "pipeline.collector.app"), \
            collector(settings, topics) as http:
        # A client cannot claim verification: Kafka headers are the collector's alone.
        answer = post(http, "/v1/consent", APP_KEY, [consent(me)],
                      **{"pp-subject-verified": "1", "X-Subject-Token": "anything"})
    assert answer.status_code == 202
    warnings = [r for r in caplog.records if "not bound to an authenticated subject" in r.message]
    assert len(warnings) == 1
    (record,) = read_topic(settings, topics.consent, 1)
    assert dict(record.headers) == {"pp-subject-verified": b"0"}


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    settings: Settings, topics: CollectorTopics
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.66"}
    with collector(settings, topics) as http:  # default: no trusted proxy, peer is loopback
        untrusted = post(http, "/v1/events", APP_KEY, [nav("u-untrusted", 0)], **spoofed)
    with collector(settings, topics, collector_trusted_proxies="127.0.0.0/8") as http:
        trusted = post(http, "/v1/events", APP_KEY, [nav("u-trusted", 0)], **spoofed)
        garbage = post(http, "/v1/events", APP_KEY, [nav("u-garbage", 0)],
                       **{"X-Forwarded-For": "<script>" + "x" * 100})
    assert untrusted.status_code == trusted.status_code == garbage.status_code == 202
    ips = {r.key.decode(): msgspec.json.decode(r.value).get("ip")
           for r in read_topic(settings, topics.navigation, 3)}
    assert ips == {"u-untrusted": "127.0.0.1", "u-trusted": "203.0.113.66", "u-garbage": None}


def test_deep_nesting_is_400_without_a_traceback(
    settings: Settings, topics: CollectorTopics, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [b"[" * 10_000 + b"]" * 10_000,
              b'[{"schema": "navigation/1", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}]"]
    with caplog.at_level(logging.INFO), collector(settings, topics) as http:
        answers = [http.post("/v1/events", content=body, headers={
            "Content-Type": "application/json", "X-API-Key": APP_KEY}) for body in bodies]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "too_deep"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_empty_batches_exhaust_the_rate_limit(settings: Settings, topics: CollectorTopics) -> None:
    s = dataclasses.replace(settings, collector_rate=0.01, collector_burst=5)
    app = create_app(s, topics=topics, keys=KEYS, keep_ip=False)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
        wait_healthy(http)
        statuses = [post(http, "/v1/events", APP_KEY, []).status_code for _ in range(7)]
        refused = [post(http, "/v1/events", EVENTS_KEY, b"not json").status_code
                   for _ in range(6)]
    assert statuses == [202] * 5 + [429] * 2
    assert refused == [400] * 5 + [429]  # refused requests cost a token too


def test_openapi_documents_scopes_and_the_subject_token(
    settings: Settings, topics: CollectorTopics
) -> None:
    with collector(settings, topics) as http:
        doc = http.get("/openapi.json").json()
    consent_post = doc["paths"]["/v1/consent"]["post"]
    assert "403" in consent_post["responses"] and "403" in doc["paths"]["/v1/events"]["post"][
        "responses"]
    assert [p["name"] for p in consent_post["parameters"]] == ["X-Subject-Token"]
    for scheme in doc["components"]["securitySchemes"].values():
        assert all(scope in scheme["description"] for scope in ("`events`", "`consent`",
                                                                "`rights`"))
