"""Start-up checks of the services: fail in one line, before joining anything.

``worker``, ``sink`` and ``collector`` call :func:`check` first: the broker answers, every
topic the service uses exists with the expected partition count and cleanup policy, and
(for the worker) the keyring exists and opens. A failure is a :class:`PreflightFailed` whose
one-line message names the command to run; the CLI turns it into exit status 1. The whole
check is bounded by :data:`WAIT_S` (a refused connection is known at once).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from kafka.errors import KafkaError

from pipeline import topics
from pipeline.errors import BrokerUnavailable, PipelineError
from pipeline.kafka import make_admin
from pipeline.settings import Settings

#: Bound on the broker part of the check, seconds (the services' whole check stays under 10).
WAIT_S = 6.0

_startup = logging.getLogger("privacy_pipeline.startup")


class PreflightFailed(PipelineError):
    """A service cannot start: a topic or the keyring is missing or wrong (message says why)."""


def service_specs(settings: Settings, purposes: Iterable[str],
                  names: Iterable[str] | None = None) -> list[topics.TopicSpec]:
    """The specs (under the prefix) of the topics named ``names``; None: every topic."""
    specs = topics.all_specs(settings, purposes)
    if names is None:
        return specs
    wanted = set(names)
    return [s for s in specs if s.name in wanted]


def check(settings: Settings, specs: Sequence[topics.TopicSpec],
          key_specs: Sequence[Any] | None = None, group: str | None = None) -> float:
    """Check the broker, ``specs``, (when ``key_specs`` is given) the keyring and (when
    ``group`` is given) that the group's coordinator is up.

    Returns:
        Seconds the check took.

    Raises:
        BrokerUnavailable: no broker answered within :data:`WAIT_S`.
        PreflightFailed: a topic is missing or wrong, or the keyring does not open.
    """
    start = time.monotonic()
    _check_topics(settings, specs, group)
    if key_specs is not None:
        check_keyring(settings, key_specs)
    return time.monotonic() - start


def _check_topics(settings: Settings, specs: Sequence[topics.TopicSpec],
                  group: str | None) -> None:
    wait_ms = int(min(settings.broker_wait_s, WAIT_S) * 1000)
    deadline = time.monotonic() + wait_ms / 1000
    admin = make_admin(settings, bootstrap_timeout_ms=wait_ms,
                       request_timeout_ms=max(1000, wait_ms // 2))
    try:
        topics.check_topics(admin, specs)
        if group is not None:
            _wait_for_coordinator(admin, group, deadline)
    except (topics.TopicMissing, topics.TopicConflict) as exc:
        raise PreflightFailed(str(exc)) from None
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"the Kafka broker at {settings.bootstrap_servers} did not answer a metadata "
            f"request ({type(exc).__name__}): check it with `privacy-pipeline broker status`"
        ) from None
    finally:
        admin.close()


def _wait_for_coordinator(admin: Any, group: str, deadline: float) -> None:
    """Wait (bounded) until the broker has a coordinator for ``group``.

    A fresh broker creates its offsets topic on the first request; a consumer joining before
    that logs "Group Coordinator Request failed" at ERROR while it retries.
    """
    while True:
        try:
            admin.describe_groups([group])
            return
        except KafkaError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def check_keyring(settings: Settings, key_specs: Sequence[Any]) -> None:
    """Open the keyring once and check it has the subject-handle key (nothing is written).

    Raises:
        PreflightFailed: missing (run ``keys init``), does not open, or has no subject-handle
            key (the keys error's text says to run ``keys ensure``).
    """
    import keys

    try:
        # The worker keys every per-user record by the subject handle: without its key it
        # could decide nothing (keyrings made before handles get it from `keys ensure`).
        keys.open_keyring(settings, list(key_specs)).subject_handle("preflight")
    except keys.KeyringNotFound:
        path = keys.KeyPaths.from_settings(settings).keyring
        raise PreflightFailed(
            f"keyring {path} missing: run `privacy-pipeline keys init`"
        ) from None
    except keys.KeysError as exc:
        raise PreflightFailed(f"keyring does not open: {exc}") from None


def announce(line: str) -> None:
    """Write the service's one start-up line on stderr, whatever the service's log setup.

    The line says what the service connects to and serves; callers never put a secret in it.
    """
    if not _startup.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s INFO %(message)s"))
        _startup.addHandler(handler)
        _startup.setLevel(logging.INFO)
        _startup.propagate = False
    _startup.info(line)
