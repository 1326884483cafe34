"""kafka-python clients built from :class:`~pipeline.settings.Settings`, and a bounded broker wait.

Option names are those of kafka-python 3.x (``bootstrap_timeout_ms`` replaced 2.x's
``api_version_auto_timeout_ms``; clients bootstrap in their constructor and raise
``KafkaTimeoutError`` when no broker answers in time).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from pipeline.errors import BrokerUnavailable
from pipeline.settings import Settings

#: Producer batching: wait this long for more records before sending a batch.
LINGER_MS = 20
_PROBE_TIMEOUT_S = 2.0
_CONNECT_TIMEOUT_S = 1.0


def _bootstrap_ms(settings: Settings) -> int:
    return int(settings.broker_wait_s * 1000)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """An idempotent producer: ``acks='all'``, idempotence on, small linger for batching.

    Keys and values are bytes unless ``overrides`` sets serializers. Any kafka-python
    producer option may be overridden (e.g. ``client_id``, ``linger_ms``).

    Raises:
        BrokerUnavailable: no broker answered within ``settings.broker_wait_s``.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": LINGER_MS,
        "bootstrap_timeout_ms": _bootstrap_ms(settings),
    }
    config.update(overrides)
    return _build(KafkaProducer, settings, config)


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> KafkaConsumer:
    """A consumer subscribed to ``topics`` (none: assign or subscribe later).

    Defaults: no auto-commit (callers commit where their output is durable) and
    ``auto_offset_reset='earliest'`` (a new group reads a topic from the start).

    Raises:
        BrokerUnavailable: no broker answered within ``settings.broker_wait_s``.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "bootstrap_timeout_ms": _bootstrap_ms(settings),
    }
    config.update(overrides)
    consumer: KafkaConsumer = _build(KafkaConsumer, settings, config)
    if topics:
        consumer.subscribe(list(topics))
    return consumer


def make_admin(settings: Settings, **overrides: Any) -> KafkaAdminClient:
    """An admin client (topics, configs, groups).

    Raises:
        BrokerUnavailable: no broker answered within ``settings.broker_wait_s``.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": "privacy-pipeline-admin",
        "bootstrap_timeout_ms": _bootstrap_ms(settings),
    }
    config.update(overrides)
    return _build(KafkaAdminClient, settings, config)


def _split(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return host.strip("[]"), int(port)


def _refusal(server: str) -> str | None:
    """Why ``server`` cannot be a broker at all (refused, unknown name), or None."""
    host, port = _split(server)
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return "unknown host"
    except OSError:
        return None  # a timeout or a route problem: the client's bounded wait decides


def fail_if_refused(settings: Settings) -> None:
    """Raise at once when every bootstrap server refuses the connection or does not resolve.

    kafka-python retries a refused connection until its bootstrap timeout (60 s by default);
    a refusal is final for this attempt, so the user hears about it now, not in a minute.

    Raises:
        BrokerUnavailable: no bootstrap server can be reached; the message says why.
    """
    reasons = [_refusal(server) for server in settings.bootstrap_list]
    if reasons and all(reasons):
        raise _unavailable(settings, 0, ConnectionRefusedError(reasons[0]))


def _build(cls: Any, settings: Settings, config: dict[str, Any]) -> Any:
    fail_if_refused(settings)
    try:
        return cls(**config)
    except KafkaError as exc:
        raise _unavailable(settings, config["bootstrap_timeout_ms"] / 1000, exc) from None


def _unavailable(settings: Settings, waited_s: float, exc: BaseException) -> BrokerUnavailable:
    env = settings.env_names()["bootstrap_servers"]
    if isinstance(exc, ConnectionRefusedError):
        what = f"no Kafka broker answered at {settings.bootstrap_servers} ({exc})"
    else:
        what = (f"no Kafka broker answered at {settings.bootstrap_servers} within "
                f"{waited_s:.0f} s ({type(exc).__name__})")
    return BrokerUnavailable(
        f"{what}: start one with `privacy-pipeline broker start` or set {env}"
    )


def probe(settings: Settings, timeout_s: float = _PROBE_TIMEOUT_S) -> bool:
    """One metadata request: True if a broker at ``settings.bootstrap_servers`` answered."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_list,
            client_id="privacy-pipeline-probe",
            bootstrap_timeout_ms=max(100, int(timeout_s * 1000)),
            request_timeout_ms=max(1000, int(timeout_s * 1000)),
        )
    except (KafkaError, OSError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def wait_for_broker(settings: Settings, timeout: float | None = None) -> float:
    """Block until the broker answers a metadata request, at most ``timeout`` seconds.

    Args:
        settings: where the broker is.
        timeout: bound in seconds; ``None`` means ``settings.broker_wait_s``.

    Returns:
        Seconds it took.

    Raises:
        BrokerUnavailable: no answer within the bound (one-line message saying what to do).
    """
    bound = settings.broker_wait_s if timeout is None else timeout
    start = time.monotonic()
    deadline = start + bound
    while True:
        remaining = deadline - time.monotonic()
        if probe(settings, min(_PROBE_TIMEOUT_S, max(0.1, remaining))):
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise _unavailable(settings, bound, TimeoutError("no metadata answer"))
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
