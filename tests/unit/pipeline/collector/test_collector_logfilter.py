"""The redacting log filter: no ip address or API key reaches a log handler."""

from __future__ import annotations

import io
import logging

from pipeline.collector.auth import new_key
from pipeline.collector.logfilter import RedactingFilter, redact


def test_redacts_ipv4_ipv6_and_keys() -> None:
    key = new_key()
    text = (
        f"from 203.0.113.9:5123 and [2001:db8::1]:80 and fe80::1%eth0 and "
        f"::ffff:192.0.2.1 auth=Bearer {key} X-API-Key: {key} at 10:15:00 v1.2.3"
    )
    out = redact(text)
    for secret in ("203.0.113.9", "2001:db8::1", "fe80::1", "192.0.2.1", key):
        assert secret not in out
    assert "10:15:00" in out and "v1.2.3" in out


def test_filter_rewrites_message_args_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.collector.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("client %s said hi", "198.51.100.7")
        try:
            raise ValueError("bad peer 198.51.100.8")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "198.51.100.7" not in output and "198.51.100.8" not in output
    assert "client [redacted] said hi" in output
    assert "ValueError: bad peer [redacted]" in output
