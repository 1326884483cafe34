"""The sink's call into the keyring's expiry (``privacy-pipeline keys expire`` on a schedule).

Destroying the keys of an epoch older than its purpose's retention makes every token
encrypted under them unreadable: retention holds cryptographically as well as in DuckDB.
The sink never decrypts; it only asks the keyring to destroy expired epochs, which also retires
the KEK (:mod:`keys.shred`): automatic with the ``file`` backend; with ``env`` the expiry is
refused and logged until an operator runs ``keys expire`` with a new master key.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import keys
import keys.shred
from pipeline.settings import Settings
from pipeline.sink.retention import KeyExpiry

log = logging.getLogger(__name__)


def keyring_expiry(settings: Settings, policy: Any) -> KeyExpiry | None:
    """A :data:`KeyExpiry` over the keyring of ``settings``, or None without a keyring.

    Args:
        settings: locates the keyring and its KEK.
        policy: a :class:`pipeline.policy.Policy` (its ``key_specs()``).
    """
    path = keys.KeyPaths.from_settings(settings).keyring
    if not path.exists():
        log.info("no keyring at %s: the sink skips key expiry (run `privacy-pipeline keys "
                 "init` to create one)", path)
        return None
    specs = policy.key_specs()

    def expire(now: datetime) -> None:
        try:
            ring = keys.open_keyring(settings, specs, clock=lambda: now)
            done = keys.shred.expire(ring).epochs
        except keys.KeysError as exc:
            # Aggregates keep flowing; the next retention pass tries again.
            log.error("key expiry failed (%s): %s", type(exc).__name__, exc)
            return
        if done:
            log.info("destroyed expired key epochs: %s", ", ".join(done))

    return expire
