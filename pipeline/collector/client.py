"""A tiny client for apps and tests: batches events, retries with back-off, honours Retry-After.

    with CollectorClient("http://127.0.0.1:8080", api_key) as client:
        result = client.send(events)          # any mix of the four schemas
        for rejection in result.rejected:     # index into ``events``
            ...

Events are routed by ``schema`` (navigation/geolocation to ``/v1/events``, consent/rights to
``/v1/consent``) and sent in batches of ``batch_size``. A batch answered 429 or 5xx, or lost
to a connection error, is retried whole (the pipeline de-duplicates by ``event_id``) after
Retry-After when the server gives one, else after an exponential back-off with jitter.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import httpx
import msgspec

from pipeline.collector.exceptions import CollectorRequestFailed

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
CONSENT_SCHEMAS: Final = frozenset({"consent/1", "rights/1"})


@dataclasses.dataclass(frozen=True)
class Rejected:
    """One event the collector refused: its index in the sequence given to ``send``."""

    index: int
    reason: str
    field: str | None


@dataclasses.dataclass
class SendResult:
    """Events accepted (acknowledged by Kafka) and rejected, over all batches of a ``send``."""

    accepted: int = 0
    rejected: list[Rejected] = dataclasses.field(default_factory=list)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header: delay-seconds or an HTTP date; ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class CollectorClient:
    """Sends events to a collector with an API key; synchronous (httpx).

    Args:
        base_url: e.g. ``http://127.0.0.1:8080``.
        api_key: the app's key (sent as ``Authorization: Bearer``).
        batch_size: events per request (at most 500).
        max_attempts: tries per batch before :class:`CollectorRequestFailed`.
        backoff_s: first back-off delay; doubles each retry, with full jitter.
        max_backoff_s: upper bound of any wait, Retry-After included.
        timeout_s: bound on one HTTP request.
        gpc: send ``Sec-GPC: 1`` (the user agent's Global Privacy Control signal).
        transport: an httpx transport (tests), default a real connection pool.
        sleep: how to wait (tests record the delays instead).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        batch_size: int = 100,
        max_attempts: int = 6,
        backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
        timeout_s: float = 10.0,
        gpc: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= batch_size <= 500:
            raise ValueError("batch_size must be between 1 and 500")
        headers = {"Authorization": f"Bearer {api_key}"}
        if gpc:
            headers["Sec-GPC"] = "1"
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport
        )
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 (jitter, not security)

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, events: Sequence[Mapping[str, Any]]) -> SendResult:
        """Send ``events`` in batches, each retried until accepted or out of attempts.

        Returns:
            Accepted count and the rejected events, indexed into ``events``.

        Raises:
            CollectorRequestFailed: a batch was refused for good (401, 403, 413, 415, malformed)
                or still failed after ``max_attempts``; earlier batches were delivered.
        """
        by_path: dict[str, list[int]] = {"/v1/events": [], "/v1/consent": []}
        for index, event in enumerate(events):
            consent = isinstance(event, Mapping) and event.get("schema") in CONSENT_SCHEMAS
            by_path["/v1/consent" if consent else "/v1/events"].append(index)
        result = SendResult()
        for path, indices in by_path.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                answer = self._post(path, msgspec.json.encode([events[i] for i in chunk]))
                result.accepted += int(answer["accepted"])
                result.rejected += [
                    Rejected(chunk[r["index"]], r["reason"], r["field"]) for r in answer["rejected"]
                ]
        result.rejected.sort(key=lambda r: r.index)
        return result

    def _post(self, path: str, payload: bytes) -> dict[str, Any]:
        last = "no attempt"
        status: int | None = None
        for attempt in range(1, self.max_attempts + 1):
            wait = self._backoff(attempt)
            try:
                response = self._http.post(
                    path, content=payload, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as exc:
                last, status = type(exc).__name__, None
            else:
                status = response.status_code
                answer = _batch_answer(response)
                if answer is not None:
                    return answer
                last = f"HTTP {status}: {_message(response)}"
                if status not in RETRY_STATUSES:
                    raise CollectorRequestFailed(f"collector refused the batch ({last})", status)
                wait = retry_after_seconds(response.headers.get("retry-after")) or wait
            if attempt < self.max_attempts:
                self._sleep(min(wait, self.max_backoff_s))
        raise CollectorRequestFailed(
            f"batch not accepted after {self.max_attempts} attempts (last: {last}); "
            "check the collector and Kafka, then send it again",
            status,
        )

    def _backoff(self, attempt: int) -> float:
        # Equal jitter: at least half the exponential delay, so retries really back off.
        delay = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return delay / 2 + self._random.uniform(0, delay / 2)


def _batch_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The batch result of a 202, or of a 400 whose every event was rejected; else None."""
    if response.status_code not in (202, 400):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and "accepted" in body and "rejected" in body:
        return body
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("message", response.reason_phrase)) if isinstance(body, dict) else ""
