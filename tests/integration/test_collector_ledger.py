"""End to end: a subject-verified consent is recorded as such by the worker and exported.

The collector (subject binding on) marks the consent it produced with ``pp-subject-verified``;
the real worker, through faust, carries the flag into the consent transitions on
``pipeline.decisions.v1``, the consent state and the rights audit; ``rights export`` shows it.
A consent written straight to Kafka (no header) is recorded as not verified.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec

from pipeline.bench.refs import DecisionRefs
from pipeline.collector.app import create_app
from pipeline.collector.auth import KeyStore, hash_key, new_key
from pipeline.settings import Settings
from tests.integration.pipeline_harness import PipelineEnv, collect, pipeline_env, send_json
from tests.integration.test_collector import WAIT_S, running, wait_healthy
from tests.integration.test_worker import _wait_ready as wait_worker_ready
from tests.subject_tokens import AUDIENCE, ISSUER, IdentityProvider

APP_KEY, DPO_KEY = new_key(), new_key()


def _consent(event_id: str, user: str, at: datetime) -> dict[str, Any]:
    return {"schema": "consent/1", "event_id": event_id, "user_id": user,
            "occurred_at": at.isoformat(), "purposes": {"audience_measurement": True},
            "source": "banner"}


def _post(http: httpx.Client, key: str, events: Any, token: str) -> httpx.Response:
    return http.post("/v1/consent", content=msgspec.json.encode(events), headers={
        "Content-Type": "application/json", "X-API-Key": key, "X-Subject-Token": token})


def _export(env: PipelineEnv, user: str, out: Path) -> dict[str, Any]:
    """``rights export`` until the worker's changelogs hold the consent and the rights record."""
    deadline = time.monotonic() + 60
    while True:
        done = env.cli("rights", "export", "--user", user, "--output", str(out))
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(out.read_text())
        if (data["consent"] and data["rights_requests"]) or time.monotonic() > deadline:
            return data
        time.sleep(1)


def test_verified_consent_reaches_the_ledger_and_the_export(
    tmp_path: Path, settings: Settings
) -> None:
    idp = IdentityProvider()
    me, other = "ledger-verified-user", "ledger-direct-user"
    at = datetime.now(UTC) - timedelta(seconds=60)
    with pipeline_env(tmp_path, settings) as env:
        env.start("worker", "--id", "1", log_name="worker-1")
        probe = env.producer()
        wait_worker_ready(env, probe)  # the worker's tables are up before consent arrives
        probe.close()
        s = dataclasses.replace(
            env.settings, collector_subject_jwks=idp.write_jwks(tmp_path / "jwks.json"),
            collector_subject_issuer=ISSUER, collector_subject_audience=AUDIENCE)
        keys = KeyStore([("app", hash_key(APP_KEY)), ("dpo", hash_key(DPO_KEY),
                                                       frozenset({"rights"}))])
        with running(create_app(s, keys=keys)) as url, \
                httpx.Client(base_url=url, timeout=WAIT_S) as http:
            wait_healthy(http)
            token = idp.token(me)
            assert _post(http, APP_KEY, [_consent("c-verified", me, at)], token).status_code == 202
            access = {"schema": "rights/1", "event_id": "r-verified", "user_id": me,
                      "occurred_at": at.isoformat(), "right": "access"}
            assert _post(http, DPO_KEY, [access], token).status_code == 202
        producer = env.producer()
        send_json(producer, env.topic("privacy.consent.v1"), [_consent("c-direct", other, at)])
        producer.close()

        # Decisions carry keyed ids, never the raw event id: computed with the run's keyring.
        refs = DecisionRefs(env.settings)
        names = {refs.ref("c-verified", at): "c-verified", refs.ref("c-direct", at): "c-direct"}
        consumer = env.consumer("pipeline.decisions.v1")
        records = collect(consumer, lambda rs: names.keys() <= {
            r["event_id"] for r in rs if r.get("kind") == "consent"}, timeout=180)
        consumer.close()
        flags = {names[r["event_id"]]: r["verified"] for r in records
                 if r.get("kind") == "consent" and r["event_id"] in names}
        assert flags == {"c-verified": True, "c-direct": False}, env.log_text("worker-1")[-3000:]

        data = _export(env, me, tmp_path / "export.json")
        assert data["consent"]["verified"] == {"audience_measurement": True}
        assert [(r["right"], r["verified"]) for r in data["rights_requests"]] == [
            ("access", True)]
