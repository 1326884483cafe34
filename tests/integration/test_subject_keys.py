"""Crypto-shredding on the real broker (issue 12 item 2): erase one of two users who consented
to everything; every encrypted field of theirs, in every sanitized topic and their dead
letter, is then KeyDestroyed through the resolution `keys decrypt` uses; the other's decrypt.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import keys
from keys import subjectkeys as sk
from pipeline.policy import LEDGER, load_policy
from pipeline.settings import Settings
from pipeline.subjectkeys import KafkaLookup, build_index, latest_records
from tests.integration.pipeline_harness import PipelineEnv, pipeline_env, send_json

APP = {"name": "mm-mobile", "platform": "ios", "version": "4.1"}
WAIT_S = 90.0


def _events(user: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    at = (now - timedelta(minutes=5)).isoformat()
    ids = {"device_id": f"dev-{user}", "ip": "10.9.8.7"}
    nav = {"schema": "navigation/1", "event_id": f"n-{user}", "user_id": user, "occurred_at": at,
           "app": APP, "type": "screen_view", "screen": "home", **ids}
    geo = {"schema": "geolocation/1", "event_id": f"g-{user}", "user_id": user,
           "occurred_at": at, "app": APP, "lat": 48.8566, "lon": 2.3522, **ids}
    return [("app.navigation.v1", nav), ("app.geolocation.v1", geo)]


def _start_worker(env: PipelineEnv) -> None:
    env.start("worker", "--id", "1", log_name="worker-1")
    time.sleep(3.0)


def _sanitized(env: PipelineEnv, purposes: list[str]) -> list[tuple[str, str, str]]:
    """(purpose, field, token) of every encrypted field on every sanitized topic."""
    consumer = env.consumer(*[f"sanitized.{p}.v1" for p in purposes])
    out: list[tuple[str, str, str]] = []
    try:
        for _ in range(4):
            for batch in consumer.poll(timeout_ms=500).values():
                for r in batch:
                    value = json.loads(r.value)
                    for rec in value.get("records", [value]):
                        out += [(rec["purpose"], f, t) for f, t in (rec["enc"] or {}).items()]
    finally:
        consumer.close()
    return out


def _dead_letters(env: PipelineEnv) -> list[dict[str, Any]]:
    consumer = env.consumer("pipeline.deadletter.v1")
    out: list[dict[str, Any]] = []
    try:
        for _ in range(4):
            for batch in consumer.poll(timeout_ms=500).values():
                out += [json.loads(r.value) for r in batch]
    finally:
        consumer.close()
    return out


def _owners(env: PipelineEnv, tokens: list[tuple[str, str, str]]) -> dict[str, str]:
    """Token -> the handle of the user whose subject key it is under (from the topic)."""
    index = build_index(latest_records(env.settings))
    out = {}
    for _, _, token in tokens:
        found = index.get(sk.token_key_id(sk.decode_token(token, sk.VERSION)))
        if found is not None:
            out[token] = found.handle
    return out


@pytest.mark.timeout(300)
def test_erasure_crypto_shreds_one_user_and_not_the_other(
    tmp_path: Path, settings: Settings
) -> None:
    policy = load_policy(None)
    purposes = sorted(policy.purposes)
    with pipeline_env(tmp_path, settings) as env:
        ring = keys.open_keyring(env.settings, policy.key_specs())
        alice, bob = f"alice-{env.prefix}", f"bob-{env.prefix}"
        handles = {ring.subject_handle(alice): alice, ring.subject_handle(bob): bob}
        now = datetime.now(UTC)
        producer = env.producer()
        grants = [{"schema": "consent/1", "event_id": f"c-{u}", "user_id": u,
                   "occurred_at": (now - timedelta(minutes=9)).isoformat(), "source": "banner",
                   "purposes": dict.fromkeys(purposes, True)} for u in (alice, bob)]
        send_json(producer, env.topic("privacy.consent.v1"), grants)
        _start_worker(env)
        for user in (alice, bob):
            for topic, event in _events(user, now):
                send_json(producer, env.topic(topic), [event])
        # A rejected input keyed by alice: its dead letter is under her subject key.
        bad = {"schema": "navigation/1", "event_id": "bad", "user_id": alice}
        send_json(producer, env.topic("app.navigation.v1"), [bad])

        deadline = time.monotonic() + WAIT_S
        while True:
            tokens = _sanitized(env, purposes)
            owners = _owners(env, tokens)
            seen = {(p, handles.get(owners.get(t, ""))) for p, _, t in tokens}
            want = {(p, u) for p in ("geolocation", "fraud_prevention") for u in (alice, bob)}
            dead = [d for d in _dead_letters(env) if d["original"]]
            if (want <= seen and len(owners) == len(tokens) and dead) \
                    or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert want <= seen, (seen, env.log_text("worker-1")[-2000:])
        assert len(owners) == len(tokens)  # every field is under a subject key
        [letter] = dead
        records = latest_records(env.settings)
        assert set(records) == {h.encode() for h in handles}  # keyed by handle only
        assert not any(u.encode() in v for v in records.values() for u in (alice, bob))

        result = env.cli("rights", "request", "--user", alice, "--right", "erasure")
        assert result.returncode == 0, result.stderr
        gone = ring.subject_handle(alice).encode()
        deadline = time.monotonic() + WAIT_S
        while gone in latest_records(env.settings) and time.monotonic() < deadline:
            time.sleep(1.0)
        assert gone not in latest_records(env.settings)

        opener = sk.SubjectDecryptor(ring, KafkaLookup(env.settings))  # as `keys decrypt`
        for purpose, field, token in tokens:
            if handles[owners[token]] == alice:
                with pytest.raises(keys.KeyDestroyed):
                    opener.decrypt(purpose, field, token)
            else:
                plain = opener.decrypt(purpose, field, token)
                assert plain in (f"dev-{bob}".encode(), b"10.9.8.7", b"48.8566,2.3522")
        with pytest.raises(keys.KeyDestroyed):
            opener.decrypt(LEDGER, "deadletter", letter["original"])

        # The CLI: one error line per record of alice, bob's decrypted, non-zero exit.
        lines = _geolocation_lines(env)
        source = tmp_path / "geolocation.jsonl"
        source.write_text("\n".join(lines) + "\n")
        out = env.cli("keys", "decrypt", "--purpose", "geolocation", str(source))
        assert out.returncode != 0 and "Traceback" not in out.stderr
        results = [json.loads(line) for line in out.stdout.splitlines()]
        assert sorted("error" in r for r in results) == [False, True]
        assert any("key destroyed" in r.get("error", "") for r in results)
        assert alice not in out.stdout + out.stderr
        producer.close()


def _geolocation_lines(env: PipelineEnv) -> list[str]:
    consumer = env.consumer("sanitized.geolocation.v1")
    lines: list[str] = []
    try:
        for _ in range(4):
            for batch in consumer.poll(timeout_ms=500).values():
                for r in batch:
                    value = json.loads(r.value)
                    lines += [json.dumps(rec) for rec in value.get("records", [value])]
    finally:
        consumer.close()
    return lines
