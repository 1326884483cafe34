"""The log output of ``privacy-pipeline collector`` (a real server process) holds no id or ip."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka.admin import KafkaAdminClient

from pipeline import topics
from pipeline.collector.auth import hash_key, new_key
from pipeline.settings import Settings

WAIT_S = 20.0
CLI = str(Path(sys.executable).with_name("privacy-pipeline"))


@pytest.fixture
def prefix(admin: KafkaAdminClient) -> Iterator[str]:
    """A uuid topic prefix with the three input topics created under it (deleted after)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}."
    names = list(topics.TopicNames(prefix).inputs)
    # As `privacy-pipeline topics` makes them: the collector's preflight checks their specs.
    specs = topics.pipeline_specs(Settings.from_env({"PRIVACY_PIPELINE_TOPIC_PREFIX": prefix}), [])
    topics.ensure_topics(admin, [s for s in specs if s.name in names])
    yield prefix
    admin.delete_topics(names, raise_errors=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_logs_hold_no_user_id_ip_key_or_payload(settings: Settings, prefix: str) -> None:
    key = new_key()
    port = free_port()
    env = os.environ | {
        "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "PRIVACY_PIPELINE_COLLECTOR_KEYS": f"log-app:{hash_key(key)}",
        "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix,
    }
    proc = subprocess.Popen([CLI, "collector", "--port", str(port), "--log-level", "debug"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    user, device, session = (f"{kind}-{uuid.uuid4().hex}" for kind in ("user", "dev", "sess"))
    screen = f"screen-{uuid.uuid4().hex}"
    event = {"schema": "navigation/1", "event_id": f"ev-{uuid.uuid4().hex}", "user_id": user,
             "device_id": device, "session_id": session, "ip": "198.51.100.77",
             "occurred_at": "2026-11-26T10:15:00Z", "screen": screen, "type": "page_view",
             "app": {"name": "web", "platform": "web", "version": "1"}}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=WAIT_S,
                          headers={"Authorization": f"Bearer {key}"}) as http:
            deadline = time.monotonic() + WAIT_S
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, "no collector"
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            assert http.post("/v1/events", json=[event, event | {"extra": user}]).status_code == 202
            assert http.post("/v1/consent", json=[event]).status_code == 400
            http.post("/v1/events", json=[event], headers={"Authorization": f"Bearer {user}"})
            http.post(f"/v1/users/{user}?ip=198.51.100.77", json=[event])
            http.post(f"/v1/events?key={key}", json=[event])  # a key in the URL
            http.post("/v1/events", content=f'[{{"user_id": "{user}"'.encode(),
                      headers={"Content-Type": "application/json"})
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=WAIT_S)[0].decode()
    assert "POST /v1/events 202" in output and "app=log-app events=2" in output  # it did log
    assert "POST other 404" in output
    # The start-up line names the listen address (the server's own), once; nothing else does.
    start = f"collector listening on http://127.0.0.1:{port}; Kafka {settings.bootstrap_servers}"
    assert output.count(start) == 1, output
    assert "Uvicorn running" not in output  # its line, redacted, said nothing
    rest = output.replace(start, "")
    for secret in (user, device, session, screen, key, "127.0.0.1", "198.51.100.77"):
        assert secret not in rest, f"log output leaks {secret[:4]}…"
