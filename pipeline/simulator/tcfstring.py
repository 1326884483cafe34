"""IAB TCF v2.2 TC strings: a core-segment encoder and a purpose-consent reader.

The simulator needs valid TC strings for its CMP users, and the oracle reads them back on its
own (independently of ``pipeline.policy.tcf``) so a decoder bug in the pipeline shows up as a
mismatch. Layout of the core segment (IAB "TCF v2 Consent string and vendor list formats"):
version 6 bits, created 36, last updated 36 (deciseconds), CMP id 12, CMP version 12, consent
screen 6, consent language 12, vendor list version 12, TCF policy version 6, is-service-specific
1, use-non-standard-texts 1, special feature opt-ins 12, purposes consent 24, purposes LI
transparency 24, purpose-one treatment 1, publisher CC 12, vendor consent section, vendor LI
section (max vendor id 16 + is-range-encoding 1 each), pub restrictions count 12. Base64url
without padding; the bits are padded with zeros to a whole byte (fewer than 24 trailing bits,
as the pipeline's strict decoder requires). Empty vendor sections, no optional segment: a
policy-version-4 (TCF v2.2) string needs none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipeline.simulator.exceptions import SimulatorError

_FEATURES_OFFSET = 6 + 36 + 36 + 12 + 12 + 6 + 12 + 12 + 6 + 1 + 1
_PURPOSES_OFFSET = _FEATURES_OFFSET + 12
_POLICY_VERSION_OFFSET = 6 + 36 + 36 + 12 + 12 + 6 + 12 + 12


@dataclass(frozen=True)
class CoreSegment:
    """Fields of a TC string's core segment that the simulator varies."""

    consents: frozenset[int]
    created: datetime
    special_features: frozenset[int] = frozenset()
    """Special features opted in (1 = precise geolocation, 2 = device scanning)."""
    cmp_id: int = 300
    cmp_version: int = 2
    vendor_list_version: int = 120
    policy_version: int = 4
    language: str = "FR"
    publisher_cc: str = "FR"


def _letters(code: str) -> list[tuple[int, int]]:
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise SimulatorError(f"a TCF language/country code is two letters, got {code!r}")
    return [(ord(c) - ord("A"), 6) for c in code.upper()]


def _bitfield(numbers: Iterable[int], width: int) -> int:
    value = 0
    for n in numbers:
        if not 1 <= n <= width:
            raise SimulatorError(f"TCF purpose/feature ids are 1..{width}, got {n}")
        value |= 1 << (width - n)
    return value


def encode(core: CoreSegment) -> str:
    """The TC string (core segment only) for ``core``."""
    ds = int(core.created.timestamp() * 10)
    fields: list[tuple[int, int]] = [
        (2, 6), (ds, 36), (ds, 36), (core.cmp_id, 12), (core.cmp_version, 12), (1, 6),
        *_letters(core.language), (core.vendor_list_version, 12), (core.policy_version, 6),
        (1, 1), (0, 1), (_bitfield(core.special_features, 12), 12),
        (_bitfield(core.consents, 24), 24), (0, 24), (0, 1),
        *_letters(core.publisher_cc), (0, 16), (0, 1), (0, 16), (0, 1), (0, 12),
    ]  # fmt: skip
    bits = "".join(format(value, f"0{width}b") for value, width in fields)
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _bits(tc_string: str) -> str:
    core = tc_string.split(".", 1)[0]
    raw = base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    return "".join(format(b, "08b") for b in raw)


def _flags(tc_string: str, offset: int, width: int) -> frozenset[int]:
    try:
        bits = _bits(tc_string)
    except ValueError:
        raise SimulatorError("not a base64url TC string") from None
    if len(bits) < _PURPOSES_OFFSET + 24 or int(bits[:6], 2) != 2:
        raise SimulatorError("not a TCF v2 core segment")
    field = bits[offset : offset + width]
    return frozenset(i + 1 for i, bit in enumerate(field) if bit == "1")


def purpose_consents(tc_string: str) -> frozenset[int]:
    """TCF purpose ids consented in ``tc_string``'s core segment.

    Raises:
        SimulatorError: the string is not a version-2 core segment long enough to hold them.
    """
    return _flags(tc_string, _PURPOSES_OFFSET, 24)


def special_features(tc_string: str) -> frozenset[int]:
    """Special features opted in (``SimulatorError`` as :func:`purpose_consents`)."""
    return _flags(tc_string, _FEATURES_OFFSET, 12)


def policy_version(tc_string: str) -> int:
    """The TcfPolicyVersion of ``tc_string`` (4 = TCF v2.2)."""
    bits = _bits(tc_string)
    return int(bits[_POLICY_VERSION_OFFSET : _POLICY_VERSION_OFFSET + 6], 2)
