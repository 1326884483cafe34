"""Raw event ids of the inputs a harness sent -> the keyed ids their decisions carry.

``pipeline.decisions.v1`` never carries a raw ``event_id`` (:mod:`processors.refs`): a harness
that waits for its events to be decided computes their decision ids with the pipeline's own
keyring (it runs the pipeline, so it holds the keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import keys
from pipeline.policy import load_policy
from pipeline.settings import Settings
from processors.refs import decision_ref
from schemas.exceptions import InvalidEvent
from schemas.validator import decode


class DecisionRefs:
    """Maps inputs to decision ids with the keyring under ``settings.data_dir``."""

    def __init__(self, settings: Settings, now: datetime | None = None) -> None:
        self._ring = keys.open_keyring(settings, load_policy(settings.policy).key_specs())
        self._now = now or datetime.now(UTC)

    def ref(self, event_id: str, occurred_at: datetime) -> str:
        """The decision id of the event ``event_id`` that occurred at ``occurred_at``."""
        found = decision_ref(self._ring, event_id, occurred_at, self._now)
        if found is None:
            raise keys.NoKeyForEpoch("the consent ledger has no live key: run `keys ensure`")
        return found

    def of_value(self, value: bytes) -> str | None:
        """The decision id of the event in input ``value``; None if the worker rejects it.

        Decoded as the worker decodes it, so the event's time (hence its ledger epoch) is
        the worker's.
        """
        try:
            event = decode(value)
        except InvalidEvent:
            return None
        return self.ref(event.event_id, event.occurred_at)

    def of_values(self, values: Iterable[bytes]) -> set[str]:
        """The decision ids of valid single-event input values."""
        return {ref for ref in map(self.of_value, values) if ref is not None}
