"""Read a process's ``/metrics`` (bounded): the samples ``status`` needs, nothing else."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

#: Most bytes read from an endpoint: a worker's page is a few KiB; anything this large is
#: not ours (a port taken by another program) and is not parsed.
MAX_BYTES = 1024 * 1024
TIMEOUT_S = 1.0

Sample = tuple[str, dict[str, str], float]


def fetch(host: str, port: int, timeout_s: float = TIMEOUT_S) -> list[Sample] | None:
    """Samples of ``http://host:port/metrics``; None if it does not answer in time (the whole
    exchange, not each read: a server dripping bytes is cut off) or is not Prometheus text."""
    body = _get(host, port, timeout_s)
    if body is None:
        return None
    try:
        return parse(body.decode("utf-8", errors="replace"))
    except (ValueError, IndexError, KeyError):  # the parser's answers to text not its own
        return None


def _get(host: str, port: int, timeout_s: float) -> bytes | None:
    deadline = time.monotonic() + timeout_s
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        if answer.status != 200:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := answer.read1(64 * 1024):
            size += len(chunk)
            if size > MAX_BYTES or time.monotonic() > deadline:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def parse(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition.

    Raises:
        ValueError: the text is not Prometheus text format.
    """
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def values(samples: Iterable[Sample], name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample named ``name``."""
    return [(labels, value) for n, labels, value in samples if n == name]
