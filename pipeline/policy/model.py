"""The loaded policy: frozen dataclasses the processors, keys and sink read.

Build one with :func:`pipeline.policy.load_policy`; constructing these by hand skips validation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.policy.erasure import ErasureBounds
from pipeline.policy.fields import LEDGER, Basis, Epoch, Treatment
from pipeline.policy.publication import Publication
from pipeline.policy.register import RegisterEntry

if TYPE_CHECKING:
    import keys

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SCREEN_CACHE_SIZE = 4096
"""Screens are few but paths may embed ids: bound the memo, clear it when full."""


@dataclass(frozen=True)
class Purpose:
    """One processing purpose: legal basis, consent rule, retention and field treatments.

    ``fields`` names every field of the catalogue (``pipeline.policy.fields.ALL_FIELDS``):
    fields the file leaves out are filled in with ``"drop"``.
    """

    name: str
    label: str
    basis: Basis
    consent_required: bool
    retention_days: int
    epoch: Epoch
    streams: frozenset[str]
    gpc_denies: bool
    objectable: bool
    fields: Mapping[str, Treatment]
    register: RegisterEntry
    """Recipients, transfers and automated decisions (record of processing)."""

    def applies_to(self, stream: str) -> bool:
        """Whether events of ``stream`` (``"navigation"``, ``"geolocation"``) feed this purpose."""
        return stream in self.streams

    def treatment(self, field_name: str) -> Treatment:
        """Treatment of ``field_name`` under this purpose.

        Raises:
            KeyError: the field is not in the policy's field catalogue (a programming error).
        """
        return self.fields[field_name]


@dataclass(frozen=True)
class LedgerSpec:
    """Epoch and retention of the consent-ledger pseudonyms (proof of consent)."""

    epoch: Epoch
    retention_days: int


@dataclass(frozen=True)
class Policy:
    """A validated policy file (DESIGN.md section 5)."""

    source: str
    """Where it was loaded from (file path, or ``default.toml`` for the shipped policy)."""
    purposes: Mapping[str, Purpose]
    k_threshold: int
    geohash_precision: int
    anonymous_counting: bool
    lateness_days: int
    future_minutes: int
    grace_seconds: int
    grace_max_events: int
    consent_ledger: LedgerSpec
    health_screen_name: str
    health_patterns: tuple[re.Pattern[str], ...]
    tcf_min_policy_version: int
    tcf_requirements: Mapping[str, frozenset[int]]
    """Our purpose -> the TCF purpose numbers that must all be consented to grant it."""
    tcf_special_features: Mapping[str, frozenset[int]]
    """Our purpose -> TCF special features whose opt-out denies it (opt-in grants nothing)."""
    tcf_purpose_one_treatment: str
    """``not_consented`` or ``waived``: how a set PurposeOneTreatment bit is read."""
    tcf_publisher_tc: str
    """``both`` or ``ignore``: whether a publisher TC segment must also consent."""
    publication: Publication = field(default_factory=Publication)
    """Per table: threshold (k) or dp, and the dp budgets (DESIGN.md section 8)."""
    erasure: ErasureBounds = field(default_factory=ErasureBounds)
    """Input retention and compaction of compacted topics: how long an erasure takes."""
    _screens: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def is_known(self, purpose: str) -> bool:
        """Whether ``purpose`` is defined by this policy (consent for others is ignored)."""
        return purpose in self.purposes

    def key_specs(self) -> list[keys.PurposeSpec]:
        """Key specifications: every purpose plus the internal ``consent_ledger``.

        Returns:
            One ``keys.PurposeSpec(name, epoch, retention_days)`` per purpose, then the ledger.
        """
        from keys import PurposeSpec  # lazy: keys must not depend on the policy loader

        specs = [PurposeSpec(p.name, p.epoch, p.retention_days) for p in self.purposes.values()]
        specs.append(
            PurposeSpec(LEDGER, self.consent_ledger.epoch, self.consent_ledger.retention_days)
        )
        return specs

    def health_screen(self, screen: str) -> str:
        """The screen name as any output may carry it.

        The query string and fragment are removed (DESIGN section 4: never kept); a screen
        matching one of the health patterns becomes the generalised name (DESIGN section 5).

        Args:
            screen: The screen or page name of a navigation event.

        Returns:
            ``health_screen_name`` for a health screen, else the screen without ``?…``/``#…``.
        """
        bare = screen.split("?", 1)[0].split("#", 1)[0]
        # Cached by the bare name: query strings make most raw names unique.
        cached = self._screens.get(bare)
        if cached is not None:
            return cached
        folded = _fold(bare)
        shown = (
            self.health_screen_name if any(p.search(folded) for p in self.health_patterns) else bare
        )
        if len(self._screens) >= _SCREEN_CACHE_SIZE:
            self._screens.clear()
        self._screens[bare] = shown
        return shown


def _fold(screen: str) -> str:
    """camelCase split with ``-``, accents removed, lower case: what health patterns see."""
    split = _CAMEL.sub("-", screen)
    decomposed = unicodedata.normalize("NFKD", split)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
