"""What the keyring needs to know about a purpose: its name, epoch kind and retention."""

from __future__ import annotations

import dataclasses
import re

from keys.epochs import EPOCH_KINDS
from keys.exceptions import InvalidEpoch, InvalidPurpose

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclasses.dataclass(frozen=True)
class PurposeSpec:
    """One purpose as the keyring sees it (built by ``Policy.key_specs()``).

    Attributes:
        name: purpose name, lower-case snake case (``geolocation``, ``consent_ledger``).
        epoch: epoch kind, ``"month"``, ``"week"`` (ISO) or ``"day"``.
        retention_days: days after an epoch's start when its keys are destroyed by ``expire``.
    """

    name: str
    epoch: str
    retention_days: int

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise InvalidPurpose(
                f"purpose name {self.name!r} is invalid: use lower-case letters, digits and _"
            )
        if self.epoch not in EPOCH_KINDS:
            raise InvalidEpoch(
                f"purpose {self.name}: epoch {self.epoch!r} is not one of {', '.join(EPOCH_KINDS)}"
            )
        if self.retention_days <= 0:
            raise InvalidPurpose(f"purpose {self.name}: retention_days must be positive")
