"""Keyed event ids: what output records carry instead of the raw ``event_id`` (DESIGN § 3).

A raw ``event_id`` is the same in every output of one event, so it would join a user's
records across purposes (four pseudonyms, one event) and to the input topics. Outputs carry
an HMAC of it instead, like the pseudonym:

- ``sanitized.<purpose>.v1``: under the purpose's pseudonym key of the event's epoch, so two
  purposes' ids of one event are unrelated without both keys;
- ``pipeline.decisions.v1``: under the consent-ledger key of the event's epoch (the sink
  de-duplicates decisions on it; it joins nothing on the sanitized topics).

Both are deterministic (same event, same id), so the sink de-duplicates redeliveries on them.
The input is domain-separated (``event_id\\x00...``) from the user pseudonym under the same key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from keys.exceptions import KeysError
from pipeline.policy.fields import LEDGER

_DOMAIN = "event_id\x00"


class PseudonymRing(Protocol):
    """The part of :class:`keys.Keyring` this module needs."""

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str: ...


def event_ref(ring: PseudonymRing, purpose: str, event_id: str, at: datetime) -> str:
    """The id of event ``event_id`` (occurred ``at``) on ``purpose``'s sanitized topic.

    Raises:
        keys.exceptions.KeysError: the purpose has no live key for ``at``'s epoch.
    """
    return ring.pseudonym(purpose, _DOMAIN + event_id, at)


def decision_ref(ring: PseudonymRing, event_id: str, at: datetime, now: datetime) -> str | None:
    """The id of event ``event_id`` on ``pipeline.decisions.v1``: consent-ledger keyed.

    Keyed under the ledger epoch of ``at`` (the event's time). An event far outside the
    lateness bound may fall in an epoch without a live ledger key: then under the epoch of
    ``now`` (such a decision is de-duplicated within that epoch only: it is a ``dropped_late``
    count). None when the ledger has no live key at either time (the keyring was never
    ensured): the sink counts such a decision as rejected, it never sees a raw id.
    """
    for when in (at, now):
        try:
            return ring.pseudonym(LEDGER, _DOMAIN + event_id, when)
        except KeysError:
            continue
    return None
