"""Strict decoder of IAB TCF v2.2 TC strings: every segment read to its last field, or refused.

Layout (IAB "Consent string and vendor list formats v2", bits, MSB first, base64url per
segment, segments joined by ``.``):

- core: Version 6, Created 36, LastUpdated 36 (deciseconds), CmpId 12, CmpVersion 12,
  ConsentScreen 6, ConsentLanguage 12, VendorListVersion 12, TcfPolicyVersion 6,
  IsServiceSpecific 1, UseNonStandardTexts 1, SpecialFeatureOptIns 12, PurposesConsent 24,
  PurposesLITransparency 24, PurposeOneTreatment 1, PublisherCC 12, vendor consents, vendor
  legitimate interests (each: MaxVendorId 16, IsRangeEncoding 1, then a bitfield of
  MaxVendorId bits or NumEntries 12 x (IsARange 1, Start 16[, End 16])), NumPubRestrictions 12
  x (PurposeId 6, RestrictionType 2, range entries as above).
- then, each at most once, after a 3-bit SegmentType: 1 disclosed vendors (a vendor section),
  3 publisher TC (PubPurposesConsent 24, PubPurposesLITransparency 24, NumCustomPurposes 6,
  CustomPurposesConsent N, CustomPurposesLITransparency N).

Refused (never a partial read): characters outside base64url (``=`` padding included), an
empty segment, a field running past the end of its segment, more than 23 trailing bits or a
non-zero one (the IAB encoder pads each segment to 24 bits, byte-based encoders less), a
version other than 2, a range entry outside 1..MaxVendorId or ending before it starts, an
undefined restriction type (3), a letter code outside A-Z, the core segment anywhere but
first, a segment type repeated, the allowed-vendors segment (type 2: out-of-band signalling,
not written since TCF v2.2) or any other type, and a TCF v2.3 string (policy version 5)
without its mandatory disclosed-vendors segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from pipeline.policy.exceptions import TcStringError

_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+")
_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIXBITS: Final = {c: f"{i:06b}" for i, c in enumerate(_ALPHABET)}
_MAX_PADDING: Final = 23
_RUNS: Final = re.compile("1+")
DISCLOSED_VENDORS: Final = 1
ALLOWED_VENDORS: Final = 2
PUBLISHER_TC: Final = 3
DISCLOSED_VENDORS_REQUIRED_FROM: Final = 5
"""TCF v2.3 (policy version 5) makes the disclosed-vendors segment mandatory."""


Vendors = tuple[tuple[int, int], ...]
"""Vendor ids as sorted, merged, inclusive ranges: the size stays that of the string (a
hostile string of 3,000 ranges of 1..65535 would otherwise expand to 195 million ids)."""


def vendor_ids(vendors: Vendors) -> frozenset[int]:
    """The ids of ``vendors`` one by one (at most 65,535; for tests and reports)."""
    return frozenset(i for start, end in vendors for i in range(start, end + 1))


def _merged(pairs: list[tuple[int, int]]) -> Vendors:
    out: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


@dataclass(frozen=True)
class Restriction:
    """One publisher restriction: a purpose, a restriction type (0..2), the vendors it binds."""

    purpose: int
    type: int
    vendors: Vendors


@dataclass(frozen=True)
class PublisherTc:
    """The publisher TC segment: the publisher's own purposes and custom purposes."""

    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]
    num_custom_purposes: int
    custom_consent: frozenset[int]
    custom_li_transparency: frozenset[int]


@dataclass(frozen=True)
class TcString:
    """Every field of a completely decoded TC string."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: Vendors
    vendor_li: Vendors
    publisher_restrictions: tuple[Restriction, ...]
    vendors_disclosed: Vendors | None
    """None: no disclosed-vendors segment."""
    publisher_tc: PublisherTc | None
    """None: no publisher TC segment."""


def _refuse(reason: str, detail: str) -> TcStringError:
    return TcStringError(f"TC string refused ({reason}): {detail}", reason=reason)


class _Bits:
    """Reads fields MSB first from one segment; reading past its end refuses the string."""

    def __init__(self, segment: str, name: str) -> None:
        self._text = "".join(_SIXBITS[c] for c in segment)
        self._at = 0
        self._name = name

    def uint(self, width: int) -> int:
        end = self._at + width
        if end > len(self._text):
            raise _refuse("truncated", f"{self._name} segment ends inside a field")
        chunk, self._at = self._text[self._at : end], end
        return int(chunk, 2) if chunk else 0

    def flag(self) -> bool:
        return self.uint(1) == 1

    def raw(self, width: int) -> str:
        """The next ``width`` bits as a string of 0 and 1."""
        start = self._at
        self.uint(width)  # bounds check and advance
        return self._text[start : self._at]

    def ids(self, width: int) -> frozenset[int]:
        """A bitfield of ``width`` bits: the 1-based positions of its set bits."""
        value = self.uint(width)
        return frozenset(width - i for i in range(width) if value >> i & 1)

    def letters(self) -> str:
        first, second = self.uint(6), self.uint(6)
        if first > 25 or second > 25:
            raise _refuse("invalid_field", f"{self._name} segment: a letter code beyond Z")
        return chr(ord("A") + first) + chr(ord("A") + second)

    def time(self) -> datetime:
        return datetime.fromtimestamp(self.uint(36) / 10, tz=UTC)

    def end(self) -> None:
        """Only zero padding, less than one 24-bit group, may follow the last field."""
        rest = self._text[self._at :]
        if len(rest) > _MAX_PADDING or "1" in rest:
            raise _refuse("trailing_data", f"{self._name} segment is longer than its fields")


def _ranges(bits: _Bits, max_id: int) -> Vendors:
    pairs: list[tuple[int, int]] = []
    for _ in range(bits.uint(12)):
        is_range = bits.flag()
        start = bits.uint(16)
        end = bits.uint(16) if is_range else start
        if not 1 <= start <= end <= max_id:
            raise _refuse("invalid_field", "a vendor range is empty or outside 1..MaxVendorId")
        pairs.append((start, end))
    return _merged(pairs)


def _vendors(bits: _Bits) -> Vendors:
    max_id = bits.uint(16)
    if bits.flag():
        return _ranges(bits, max_id)
    field = bits.raw(max_id)
    return tuple((m.start() + 1, m.end()) for m in _RUNS.finditer(field))


def _restrictions(bits: _Bits) -> tuple[Restriction, ...]:
    out: list[Restriction] = []
    for _ in range(bits.uint(12)):
        purpose, kind = bits.uint(6), bits.uint(2)
        if kind == 3 or purpose == 0:
            raise _refuse("invalid_field", "a publisher restriction of undefined type/purpose")
        out.append(Restriction(purpose, kind, _ranges(bits, 0xFFFF)))
    return tuple(out)


def _core(segment: str) -> TcString:
    bits = _Bits(segment, "core")
    version = bits.uint(6)
    if version != 2:
        raise _refuse("version", f"version {version} is not supported; TCF v2 only")
    tc = TcString(
        version=version,
        created=bits.time(),
        last_updated=bits.time(),
        cmp_id=bits.uint(12),
        cmp_version=bits.uint(12),
        consent_screen=bits.uint(6),
        consent_language=bits.letters(),
        vendor_list_version=bits.uint(12),
        policy_version=bits.uint(6),
        is_service_specific=bits.flag(),
        use_non_standard_texts=bits.flag(),
        special_feature_opt_ins=bits.ids(12),
        purposes_consent=bits.ids(24),
        purposes_li_transparency=bits.ids(24),
        purpose_one_treatment=bits.flag(),
        publisher_cc=bits.letters(),
        vendor_consents=_vendors(bits),
        vendor_li=_vendors(bits),
        publisher_restrictions=_restrictions(bits),
        vendors_disclosed=None,
        publisher_tc=None,
    )
    bits.end()
    return tc


def _publisher_tc(bits: _Bits) -> PublisherTc:
    consent, li, custom = bits.ids(24), bits.ids(24), bits.uint(6)
    return PublisherTc(consent, li, custom, bits.ids(custom), bits.ids(custom))


def _segment_type(segment: str) -> int:
    return int(_SIXBITS[segment[0]][:3], 2)


def _optional(segment: str, seen: dict[int, Vendors | PublisherTc]) -> None:
    kind = _segment_type(segment)
    if kind in seen:
        raise _refuse("segment_type", f"segment type {kind} appears twice")
    if kind not in (DISCLOSED_VENDORS, PUBLISHER_TC):
        raise _refuse("segment_type", f"segment type {kind} is not one of TCF v2.2's")
    bits = _Bits(segment, "disclosed vendors" if kind == DISCLOSED_VENDORS else "publisher TC")
    bits.uint(3)
    seen[kind] = _vendors(bits) if kind == DISCLOSED_VENDORS else _publisher_tc(bits)
    bits.end()


def decode_tc_string(tc_string: str) -> TcString:
    """Decode every segment of an IAB TCF v2.2 TC string, or refuse it.

    Args:
        tc_string: The string as a CMP writes it (``core[.segment…]``, base64url, unpadded).

    Returns:
        All fields of the core segment and of the optional segments present.

    Raises:
        TcStringError: anything but a complete, well-formed string (module docstring); its
            ``reason`` names the rule broken. The message never quotes the string (it is a
            device-level identifier).
    """
    segments = tc_string.split(".")
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        raise _refuse("encoding", "a segment is empty or not unpadded base64url text")
    core = _core(segments[0])
    seen: dict[int, Vendors | PublisherTc] = {}
    for segment in segments[1:]:
        _optional(segment, seen)
    disclosed = seen.get(DISCLOSED_VENDORS)
    if disclosed is None and core.policy_version >= DISCLOSED_VENDORS_REQUIRED_FROM:
        raise _refuse("missing_segment", "TCF v2.3 strings must carry their disclosed vendors")
    publisher = seen.get(PUBLISHER_TC)
    return replace(
        core,
        vendors_disclosed=disclosed if isinstance(disclosed, tuple) else None,
        publisher_tc=publisher if isinstance(publisher, PublisherTc) else None,
    )
