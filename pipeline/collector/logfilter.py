"""Logging of the collector: a redacting filter and the log configuration of the server.

Request logs are written by :mod:`pipeline.collector.middleware` and never contain a user id,
an ip, a key or a payload. This filter is the second line of defence for every other log
record (uvicorn's, kafka-python's, tracebacks): it removes anything that looks like an IP
address or an API key before a handler writes it. uvicorn's own access log, which prints the
client address, is turned off.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}(?::{_H})*)?::(?:{_H}(?::{_H})*)?)"
    r"(?:%\w+)?(?![\w:])"
)
_SECRET = r"(?i)(?:bearer\s+\S+|ppk_[\w-]+|x-api-key\s*[:=]\s*\S+)"  # noqa: S105 (a pattern)
_PATTERN: Final = re.compile(f"{_SECRET}|{_IPV4}|{_IPV6}")
REDACTED: Final = "[redacted]"


def redact(text: str) -> str:
    """``text`` with IPv4/IPv6 addresses and API keys replaced by ``[redacted]``."""
    return _PATTERN.sub(REDACTED, text)


OWN_ADDRESSES: Final = "collector_own_addresses"
"""``extra`` flag of the start-up line: it names the server's own addresses, not a client's,
so it is written as is (``extra={OWN_ADDRESSES: True}``; never set on a request's record)."""


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; always keeps the record."""
        if getattr(record, OWN_ADDRESSES, False) is True and not record.exc_info:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class DropUvicornBanner(logging.Filter):
    """Drops uvicorn's "running on" line: redacted it is useless; the collector logs its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the banner."""
        return not str(record.msg).startswith("Uvicorn running on")


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the server: one stderr handler, redacted."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": RedactingFilter},
            "no_banner": {"()": DropUvicornBanner},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["no_banner", "redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Off: it prints the client's ip and port on every request.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "kafka": {"level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
