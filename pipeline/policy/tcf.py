"""IAB TCF v2 TC strings: decode the core segment and map its purpose consents to ours.

Hand-written rather than a dependency: the PyPI decoders (``iab-tcf``, last release 2022, and
its fork ``iab-tcf-bitarray``) predate TCF v2.2, and we need only fixed-width core fields.
Core segment layout (IAB "Consent string and vendor list formats v2", bits, in order):
Version 6, Created 36, LastUpdated 36, CmpId 12, CmpVersion 12, ConsentScreen 6,
ConsentLanguage 12, VendorListVersion 12, TcfPolicyVersion 6, IsServiceSpecific 1,
UseNonStandardTexts 1, SpecialFeatureOptIns 12, PurposesConsent 24,
PurposesLITransparency 24, PurposeOneTreatment 1, PublisherCC 12, then vendor sections.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pipeline.policy.exceptions import TcStringError
from pipeline.policy.model import Policy

_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_CORE_BITS: Final = 213
"""Bits up to and including PublisherCC; shorter core segments are truncated strings."""
_CORE_CHARS: Final = 36
"""Base64 characters decoded: 36 chars = 27 bytes = 216 bits ≥ ``_CORE_BITS``."""


@dataclass(frozen=True)
class TcString:
    """The core-segment fields of a TC string that consent decisions use."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]


class _Bits:
    """Big-endian bit reader over bytes (TC string fields are MSB first)."""

    def __init__(self, data: bytes) -> None:
        self._text = "".join(f"{byte:08b}" for byte in data)
        self._at = 0

    def uint(self, width: int) -> int:
        chunk = self._text[self._at : self._at + width]
        self._at += width
        return int(chunk, 2)

    def flags(self, width: int) -> frozenset[int]:
        chunk = self._text[self._at : self._at + width]
        self._at += width
        return frozenset(i + 1 for i, bit in enumerate(chunk) if bit == "1")

    def time(self) -> datetime:
        return datetime.fromtimestamp(self.uint(36) / 10, tz=UTC)  # deciseconds

    def letters(self) -> str:
        return "".join(chr(ord("A") + self.uint(6)) for _ in range(2))


def decode_tc_string(tc_string: str) -> TcString:
    """Decode the core segment of an IAB TCF v2 TC string.

    Args:
        tc_string: The string as a CMP writes it (``core[.segment…]``, base64url, unpadded).

    Returns:
        The core fields.

    Raises:
        TcStringError: not base64url, truncated, or not version 2. The message never quotes
            the string (it is a device-level identifier).
    """
    core = tc_string.strip().split(".", 1)[0]
    if not _BASE64URL.fullmatch(core):
        raise TcStringError("TC string: core segment is not base64url text")
    if len(core) * 6 < _CORE_BITS:
        raise TcStringError(
            f"TC string: core segment too short ({len(core) * 6} bits, needs {_CORE_BITS})"
        )
    try:
        head = base64.urlsafe_b64decode(core[:_CORE_CHARS])
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - charset checked above
        raise TcStringError(f"TC string: undecodable base64url ({exc})") from None
    bits = _Bits(head)
    version = bits.uint(6)
    if version != 2:
        raise TcStringError(f"TC string: version {version} is not supported; TCF v2 only")
    return TcString(
        version=version,
        created=bits.time(),
        last_updated=bits.time(),
        cmp_id=bits.uint(12),
        cmp_version=bits.uint(12),
        consent_language=_skip_screen_then_language(bits),
        vendor_list_version=bits.uint(12),
        policy_version=bits.uint(6),
        is_service_specific=bool(bits.uint(1)),
        special_feature_opt_ins=_skip_stacks_then_features(bits),
        purposes_consent=bits.flags(24),
        purposes_li_transparency=bits.flags(24),
    )


def _skip_screen_then_language(bits: _Bits) -> str:
    bits.uint(6)  # ConsentScreen: CMP-specific, meaningless to us
    return bits.letters()


def _skip_stacks_then_features(bits: _Bits) -> frozenset[int]:
    bits.uint(1)  # UseNonStandardTexts
    return bits.flags(12)


def tcf_purposes(tc_string: str, policy: Policy) -> dict[str, bool]:
    """Our purposes a TC string decides, granted only when ALL their TCF purposes are.

    Only purpose *consents* count (never legitimate interest). Purposes the policy's
    ``[tcf.purposes]`` table does not map (geolocation, fraud_prevention by default) are
    absent from the result: a TC string says nothing about them.

    Args:
        tc_string: The ``tcf`` field of a consent/1 event.
        policy: The loaded policy (its TCF table and minimum policy version).

    Returns:
        ``{purpose: granted}`` for every purpose the TCF table maps, to apply as a partial
        consent update.

    Raises:
        TcStringError: malformed string, or a TcfPolicyVersion below the policy's minimum.
    """
    decoded = decode_tc_string(tc_string)
    if decoded.policy_version < policy.tcf_min_policy_version:
        raise TcStringError(
            f"TC string: TcfPolicyVersion {decoded.policy_version} is older than the "
            f"policy's minimum {policy.tcf_min_policy_version}; the CMP must re-ask consent"
        )
    consented = decoded.purposes_consent
    return {name: needed <= consented for name, needed in policy.tcf_requirements.items() if needed}
