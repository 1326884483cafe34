"""The collector's start-up line: names where it listens (port 0 resolved), unredacted, once."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from fastapi import FastAPI

from pipeline.collector.logfilter import OWN_ADDRESSES, DropUvicornBanner, RedactingFilter
from pipeline.collector.server import make_server


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_start_up_line_names_the_bound_address(caplog: pytest.LogCaptureFixture) -> None:
    server = make_server(FastAPI(), "127.0.0.1", 0, "info", configure_logging=False,
                         banner="Kafka k:1, 2 API key(s)")
    caplog.set_level(logging.INFO, logger="pipeline.collector")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)
    lines = [r for r in caplog.records if r.name == "pipeline.collector"]
    assert [r.getMessage() for r in lines] == [
        f"collector listening on http://127.0.0.1:{port}; Kafka k:1, 2 API key(s)"]
    assert RedactingFilter().filter(lines[0]) and f"127.0.0.1:{port}" in lines[0].getMessage()


def test_only_the_flagged_start_up_record_escapes_redaction() -> None:
    own = record("listening on http://10.1.2.3:80", **{OWN_ADDRESSES: True})
    other = record("client 10.1.2.3 sent ppk_abc")
    spoof = record("client 10.1.2.3", **{OWN_ADDRESSES: "yes"})
    for rec in (own, other, spoof):
        RedactingFilter().filter(rec)
    assert own.getMessage() == "listening on http://10.1.2.3:80"
    assert other.getMessage() == "client [redacted] sent [redacted]"
    assert spoof.getMessage() == "client [redacted]"


def test_uvicorn_banner_is_dropped() -> None:
    assert not DropUvicornBanner().filter(record("Uvicorn running on %s://%s:%d (Press CTRL+C)"))
    assert DropUvicornBanner().filter(record("Started server process [1]"))
