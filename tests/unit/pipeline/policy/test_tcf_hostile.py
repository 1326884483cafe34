"""Hostile TC strings: the decoder's time and memory stay proportional to the string."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy import TcStringError, decode_tc_string
from pipeline.policy.tcstring import vendor_ids

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
LIMIT = 16384
"""The consent/1 schema's maximum length of ``tcf``."""


def _encode(fields: list[tuple[int, int]]) -> str:
    bits = "".join(format(value, f"0{width}b") for value, width in fields)
    bits += "0" * (-len(bits) % 24)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def _core_head() -> list[tuple[int, int]]:
    return [(2, 6), (17_000_000_000, 36), (17_000_000_000, 36), (300, 12), (2, 12), (1, 6),
            (4, 6), (13, 6), (150, 12), (4, 6), (0, 1), (0, 1), (1, 12), (0xFFFFFF, 24),
            (0, 24), (0, 1), (5, 6), (17, 6)]  # fmt: skip


def _full_range(entries: int) -> list[tuple[int, int]]:
    """A range-encoded vendor section of ``entries`` copies of 1..65535."""
    return [(65535, 16), (1, 1), (entries, 12)] + [(1, 1), (1, 16), (65535, 16)] * entries


def test_thousands_of_full_ranges_decode_fast_into_one_range() -> None:
    entries = 4095  # the 12-bit maximum
    empty = [(0, 16), (0, 1)]
    tc = _encode(_core_head() + _full_range(entries) + empty + [(0, 12)])
    assert len(tc) < LIMIT * 2
    started = time.perf_counter()
    decoded = decode_tc_string(tc)
    assert time.perf_counter() - started < 1.0
    assert decoded.vendor_consents == ((1, 65535),)
    assert len(vendor_ids(decoded.vendor_consents)) == 65535


def test_thousands_of_full_restrictions_stay_small() -> None:
    count = 1800  # 53 bits each: about what 16 KiB of text holds
    empty = [(0, 16), (0, 1)]
    restriction = [(7, 6), (0, 2), (1, 12), (1, 1), (1, 16), (65535, 16)]
    tc = _encode(_core_head() + empty + empty + [(count, 12)] + restriction * count)
    assert len(tc) <= LIMIT
    started = time.perf_counter()
    decoded = decode_tc_string(tc)
    assert time.perf_counter() - started < 1.0
    assert len(decoded.publisher_restrictions) == count
    assert {r.vendors for r in decoded.publisher_restrictions} == {((1, 65535),)}


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ([(10, 16), (1, 1), (1, 12), (1, 1), (5, 16), (11, 16)], "invalid_field"),  # past max
        ([(10, 16), (1, 1), (1, 12), (1, 1), (7, 16), (3, 16)], "invalid_field"),  # backwards
        ([(10, 16), (1, 1), (1, 12), (0, 1), (0, 16)], "invalid_field"),  # vendor 0
        ([(65535, 16), (0, 1)], "truncated"),  # a bitfield the string does not hold
    ],
)
def test_impossible_vendor_sections_are_refused(
    section: list[tuple[int, int]], reason: str
) -> None:
    empty = [(0, 16), (0, 1)]
    with pytest.raises(TcStringError) as caught:
        decode_tc_string(_encode(_core_head() + section + empty + [(0, 12)]))
    assert caught.value.reason == reason


def test_undefined_restriction_type_is_refused() -> None:
    empty = [(0, 16), (0, 1)]
    restriction = [(7, 6), (3, 2), (1, 12), (0, 1), (4, 16)]
    with pytest.raises(TcStringError) as caught:
        decode_tc_string(_encode(_core_head() + empty + empty + [(1, 12)] + restriction))
    assert caught.value.reason == "invalid_field"


def test_a_letter_code_beyond_z_is_refused() -> None:
    head = _core_head()
    head[6] = (30, 6)  # consent language: first letter 30 > 25
    with pytest.raises(TcStringError) as caught:
        decode_tc_string(_encode(head + [(0, 16), (0, 1)] * 2 + [(0, 12)]))
    assert caught.value.reason == "invalid_field"


VALID = [
    _encode(_core_head() + [(0, 16), (0, 1)] * 2 + [(0, 12)]),
    _encode(_core_head() + _full_range(3) + [(300, 16), (0, 1), (1 << 299 | 1, 300), (0, 12)]),
]


def test_the_fuzzed_bases_are_valid() -> None:
    assert decode_tc_string(VALID[0]).vendor_consents == ()
    second = decode_tc_string(VALID[1])
    assert second.vendor_consents == ((1, 65535),) and second.vendor_li == ((1, 1), (300, 300))


@given(
    st.sampled_from(VALID),
    st.integers(min_value=0, max_value=200),
    st.text(alphabet=ALPHABET + ".=", min_size=0, max_size=3),
)
def test_any_edit_of_a_valid_string_decodes_whole_or_raises_the_typed_error(
    base: str, at: int, insert: str
) -> None:
    at = at % (len(base) + 1)
    edited = base[:at] + insert + base[at + 1 :]
    try:
        decoded = decode_tc_string(edited)
    except TcStringError as exc:
        assert exc.reason in {"encoding", "truncated", "trailing_data", "version",
                              "segment_type", "missing_segment", "invalid_field"}  # fmt: skip
        return
    assert decoded.version == 2
