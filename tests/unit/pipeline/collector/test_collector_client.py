"""The tiny client: batching, routing, index mapping, retries, back-off and Retry-After.

A scripted local HTTP stub plays the collector (client unit tests only; the real collector
is exercised by tests/integration/test_collector*.py).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pipeline.collector.client import CollectorClient, retry_after_seconds
from pipeline.collector.exceptions import CollectorRequestFailed

Reply = tuple[int, dict[str, str], Any]


class Stub:
    """Answers POSTs from a script of replies; a reply of None answers 202 for the batch."""

    def __init__(self) -> None:
        self.script: list[Reply | None] = []
        self.requests: list[tuple[str, dict[str, str], list[Any]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((self.path, dict(self.headers.items()), body))
                reply = stub.script.pop(0) if stub.script else None
                if reply is None:
                    reply = (202, {}, {"accepted": len(body), "rejected": []})
                status, headers, payload = reply
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    thread = threading.Thread(target=s.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


def client(url: str, sleeps: list[float], **kwargs: Any) -> CollectorClient:
    return CollectorClient(url, "ppk_test", sleep=sleeps.append, **kwargs)


def nav(i: int) -> dict[str, Any]:
    return {"schema": "navigation/1", "event_id": f"e{i}"}


def test_batches_route_by_schema_and_map_rejected_indices(stub: Stub) -> None:
    events = [nav(0), {"schema": "consent/1", "event_id": "c1"}, nav(2), nav(3),
              {"schema": "rights/1", "event_id": "r4"}, nav(5)]
    stub.script = [
        (202, {}, {"accepted": 1, "rejected": [{"index": 1, "reason": "bad", "field": "x"}]}),
        None,
        (202, {}, {"accepted": 1, "rejected": [{"index": 1, "reason": "no", "field": None}]}),
    ]
    sleeps: list[float] = []
    with client(stub.url, sleeps, batch_size=2, gpc=True) as c:
        result = c.send(events)
    paths = [(path, [e["event_id"] for e in body]) for path, _, body in stub.requests]
    assert paths == [("/v1/events", ["e0", "e2"]), ("/v1/events", ["e3", "e5"]),
                     ("/v1/consent", ["c1", "r4"])]
    assert result.accepted == 4
    assert [(r.index, r.reason) for r in result.rejected] == [(2, "bad"), (4, "no")]
    headers = stub.requests[0][1]
    assert headers["Authorization"] == "Bearer ppk_test"
    assert headers["Sec-GPC"] == "1" and headers["Content-Type"] == "application/json"
    assert sleeps == []


def test_retry_after_is_respected_and_the_same_batch_is_resent(stub: Stub) -> None:
    stub.script = [(503, {"Retry-After": "7"}, {"error": "kafka_unavailable", "message": "x"}),
                   (429, {"Retry-After": "2"}, {"error": "rate_limited", "message": "y"})]
    sleeps: list[float] = []
    result = client(stub.url, sleeps).send([nav(0), nav(1)])
    assert result.accepted == 2
    assert sleeps == [7.0, 2.0]
    assert len({json.dumps(body) for _, _, body in stub.requests}) == 1
    assert len(stub.requests) == 3


def test_exponential_backoff_with_jitter_without_retry_after(stub: Stub) -> None:
    stub.script = [(503, {}, {"error": "e", "message": "m"})] * 4
    sleeps: list[float] = []
    result = client(stub.url, sleeps, backoff_s=1.0, max_backoff_s=5.0).send([nav(0)])
    assert result.accepted == 1
    bounds = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.5, 5.0)]
    assert len(sleeps) == 4
    for wait, (low, high) in zip(sleeps, bounds, strict=True):
        assert low <= wait <= high


def test_gives_up_after_max_attempts(stub: Stub) -> None:
    stub.script = [(503, {"Retry-After": "100"}, {"error": "e", "message": "down"})] * 3
    sleeps: list[float] = []
    with pytest.raises(CollectorRequestFailed, match="after 3 attempts") as err:
        client(stub.url, sleeps, max_attempts=3, max_backoff_s=10).send([nav(0)])
    assert err.value.status == 503
    assert sleeps == [10.0, 10.0]  # Retry-After capped by max_backoff_s


@pytest.mark.parametrize("status", [400, 401, 413, 415])
def test_client_errors_are_not_retried(stub: Stub, status: int) -> None:
    stub.script = [(status, {}, {"error": "e", "message": "fix it"})]
    sleeps: list[float] = []
    with pytest.raises(CollectorRequestFailed, match="fix it") as err:
        client(stub.url, sleeps).send([nav(0)])
    assert err.value.status == status
    assert sleeps == [] and len(stub.requests) == 1


def test_all_rejected_batch_is_a_result_not_an_error(stub: Stub) -> None:
    body = {"error": "no_valid_event", "message": "m", "accepted": 0,
            "rejected": [{"index": 0, "reason": "r", "field": None}]}
    stub.script = [(400, {}, body)]
    result = client(stub.url, []).send([nav(0)])
    assert result.accepted == 0 and [r.index for r in result.rejected] == [0]


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    c = client(f"http://127.0.0.1:{port}", sleeps, max_attempts=3, backoff_s=0.01)
    with pytest.raises(CollectorRequestFailed, match="ConnectError") as err:
        c.send([nav(0)])
    assert err.value.status is None and len(sleeps) == 2


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True),
                               now) == 30.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_batch_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        CollectorClient("http://127.0.0.1:1", "k", batch_size=501)
