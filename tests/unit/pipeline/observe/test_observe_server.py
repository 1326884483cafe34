"""The metrics/health HTTP server, liveness, ports and the bounded scraper."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from pipeline.errors import ConfigError
from pipeline.observe import scrape
from pipeline.observe.ports import (
    parse_client_id,
    sink_port,
    worker_client_id,
    worker_number,
    worker_port,
)
from pipeline.observe.server import Liveness, MetricsServer, serve_metrics
from pipeline.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_liveness_starting_ok_failing_and_stalled() -> None:
    clock = Clock()
    live = Liveness(10.0, clock)
    assert live.check() == (False, "starting")
    live.beat()
    assert live.check() == (True, "ok")
    live.fail("kafka_retrying")
    live.beat()  # the loop going round does not clear a failure: an answer of the broker does
    assert live.check() == (False, "kafka_retrying")
    live.contact()
    assert live.check() == (True, "ok")
    clock.now += 10.5
    assert live.check() == (False, "stalled")


def test_liveness_with_a_kafka_bound_needs_the_broker_to_answer() -> None:
    clock = Clock()
    live = Liveness(10.0, clock, kafka_max_s=30.0)
    live.beat()
    assert live.check() == (False, "starting")  # the loop runs, the broker never answered
    live.contact()
    assert live.check() == (True, "ok")
    for _ in range(7):  # the loop goes on, the broker stays silent
        clock.now += 5
        live.beat()
    assert live.check() == (False, "kafka_silent")
    live.fail("kafka_unreachable")
    live.beat()
    assert live.check() == (False, "kafka_unreachable")
    live.contact()
    assert live.check() == (True, "ok")


@pytest.fixture
def served() -> Iterator[tuple[str, Counter, Liveness]]:
    registry = CollectorRegistry()
    counter = Counter("thing_done", "Things done.", ["kind"], registry=registry)
    live = Liveness(60.0)
    server = MetricsServer(registry, live.check, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{server.port}", counter, live
    server.stop()


def test_metrics_and_health_answer(served: tuple[str, Counter, Liveness]) -> None:
    url, counter, live = served
    counter.labels("a").inc(3)
    text = httpx.get(f"{url}/metrics").text
    assert ("thing_done_total", {"kind": "a"}, 3.0) in scrape.parse(text)
    starting = httpx.get(f"{url}/healthz")
    assert (starting.status_code, starting.json()) == (503, {"status": "starting"})
    live.beat()
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/").status_code == 404
    assert httpx.post(f"{url}/metrics", content=b"x").status_code == 501
    assert httpx.head(f"{url}/metrics").status_code == 200


def test_port_in_use_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING):
            server = serve_metrics(CollectorRegistry(), lambda: (True, "ok"), "127.0.0.1", port,
                                   "worker 1")
    assert server is None
    assert f"worker 1: metrics endpoint not started on 127.0.0.1:{port}" in caplog.text
    assert serve_metrics(CollectorRegistry(), lambda: (True, "ok"), "127.0.0.1", 0, "x") is None


def test_two_workers_and_two_shards_on_one_host_get_distinct_ports() -> None:
    one = Settings.from_env({"PRIVACY_PIPELINE_WORKER_ID": "1"})
    two = Settings.from_env({"PRIVACY_PIPELINE_WORKER_ID": "2"})
    assert (worker_port(one), worker_port(two)) == (9501, 9502)
    assert (sink_port(one, 0), sink_port(one, 1)) == (9600, 9601)
    assert len({worker_port(one), worker_port(two), sink_port(one, 0), sink_port(one, 1),
                one.collector_metrics_port}) == 5
    assert worker_number("eu-west-7") == worker_number("eu-west-7") < 100
    off = Settings.from_env({"PRIVACY_PIPELINE_WORKER_METRICS_PORT": "0",
                             "PRIVACY_PIPELINE_SINK_METRICS_PORT": "0"})
    assert (worker_port(off), sink_port(off, 3)) == (0, 0)


def test_metrics_ports_are_validated() -> None:
    for bad in ("-1", "65536", "http"):
        with pytest.raises(ConfigError, match="PRIVACY_PIPELINE_SINK_METRICS_PORT"):
            Settings.from_env({"PRIVACY_PIPELINE_SINK_METRICS_PORT": bad})


def test_client_id_names_the_worker_and_its_port() -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_WORKER_ID": "w@3",
                           "PRIVACY_PIPELINE_WORKER_METRICS_PORT": "7000"})
    assert parse_client_id(worker_client_id(s)) == ("w@3", worker_port(s))
    for other in ("faust-0.11", "privacy-pipeline-worker-1", "privacy-pipeline-worker-1@x",
                  "privacy-pipeline-worker-1@99999", "privacy-pipeline-sink-0"):
        assert parse_client_id(other) is None


class _Garbage(http.server.BaseHTTPRequestHandler):
    body = b"<html>not metrics{{{</html>"

    def do_GET(self) -> None:  # http.server calls it by this name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.mark.parametrize("body", [b"<html>not metrics{{{</html>",
                                  b"x" * (scrape.MAX_BYTES + 10)])
def test_scrape_refuses_what_is_not_a_metrics_page(body: bytes) -> None:
    handler = type("H", (_Garbage,), {"body": body})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        assert scrape.fetch("127.0.0.1", httpd.server_address[1]) is None
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_scrape_of_a_closed_port_is_none_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert scrape.fetch("127.0.0.1", port) is None


class _Drip(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server calls it by this name
        self.send_response(200)
        self.end_headers()
        for _ in range(40):
            self.wfile.write(b"# x\n")
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_scrape_of_a_dripping_server_is_cut_off_at_its_deadline() -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        assert scrape.fetch("127.0.0.1", httpd.server_address[1], timeout_s=0.5) is None
        assert time.monotonic() - started < 1.5
    finally:
        httpd.shutdown()
        httpd.server_close()
