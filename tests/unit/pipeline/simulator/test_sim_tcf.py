"""The simulator's TC string encoder, checked against the pipeline's decoder and the layout."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy import decode_tc_string, load_policy, tcf_purposes
from pipeline.simulator.exceptions import SimulatorError
from pipeline.simulator.tcfstring import (
    CoreSegment,
    encode,
    policy_version,
    purpose_consents,
    special_features,
)

WHEN = datetime(2026, 4, 1, 8, 30, 15, 300000, tzinfo=UTC)


def _bits(tc: str) -> str:
    raw = base64.urlsafe_b64decode(tc + "=" * (-len(tc) % 4))
    return "".join(f"{b:08b}" for b in raw)


def test_core_segment_layout() -> None:
    tc = encode(CoreSegment(frozenset({1, 3, 24}), WHEN, cmp_id=300, vendor_list_version=120))
    assert "=" not in tc and "+" not in tc and "/" not in tc
    bits = _bits(tc)
    assert int(bits[0:6], 2) == 2  # version
    assert int(bits[6:42], 2) == int(WHEN.timestamp() * 10)  # created, deciseconds
    assert int(bits[78:90], 2) == 300  # CMP id
    assert bits[108:120] == f"{ord('F') - 65:06b}{ord('R') - 65:06b}"  # language FR
    assert int(bits[120:132], 2) == 120  # vendor list version
    assert int(bits[132:138], 2) == 4  # TCF policy version (v2.2)
    consents = bits[152:176]
    assert consents[0] == "1" and consents[2] == "1" and consents[23] == "1"
    assert consents.count("1") == 3
    # 213 bits up to PublisherCC, 2 x 17 vendor-section bits, 12 restriction bits.
    assert len(bits) == 213 + 34 + 12 + (-(213 + 34 + 12) % 8)


@given(st.frozensets(st.integers(min_value=1, max_value=24)))
def test_pipeline_decoder_reads_what_the_encoder_writes(consents: frozenset[int]) -> None:
    tc = encode(CoreSegment(consents, WHEN))
    decoded = decode_tc_string(tc)
    assert decoded.purposes_consent == consents == purpose_consents(tc)
    assert decoded.created == datetime.fromtimestamp(int(WHEN.timestamp() * 10) / 10, tz=UTC)
    assert decoded.policy_version == 4 == policy_version(tc)
    assert decoded.consent_language == "FR"


def test_mapping_through_the_policy() -> None:
    policy = load_policy()
    got = tcf_purposes(encode(CoreSegment(frozenset({1, 8, 9}), WHEN)), policy)
    # Special feature 1 (precise geolocation) not opted in: the string refuses geolocation.
    assert got == {
        "audience_measurement": True,
        "personalisation": False,
        "advertising": False,
        "geolocation": False,
    }
    opted_in = tcf_purposes(encode(CoreSegment(frozenset({1, 8, 9}), WHEN, frozenset({1}))), policy)
    assert "geolocation" not in opted_in  # opting in grants nothing by itself


@given(
    st.frozensets(st.integers(min_value=1, max_value=24)),
    st.frozensets(st.integers(min_value=1, max_value=12)),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_simulator_strings_decode_strictly(
    consents: frozenset[int], features: frozenset[int], when: datetime
) -> None:
    tc = encode(CoreSegment(consents, when, features))
    decoded = decode_tc_string(tc)  # the strict decoder: every field, nothing left over
    assert decoded.special_feature_opt_ins == features == special_features(tc)
    assert decoded.purposes_consent == consents
    assert decoded.vendor_consents == decoded.vendor_li == ()
    assert decoded.publisher_restrictions == ()
    assert decoded.vendors_disclosed is None and decoded.publisher_tc is None


@pytest.mark.parametrize("bad", [CoreSegment(frozenset({25}), WHEN),
                                 CoreSegment(frozenset(), WHEN, language="FRA")])  # fmt: skip
def test_encoder_refuses_impossible_fields(bad: CoreSegment) -> None:
    with pytest.raises(SimulatorError):
        encode(bad)


def test_reader_refuses_non_tcf_strings() -> None:
    with pytest.raises(SimulatorError):
        purpose_consents("AAAA")
    with pytest.raises(SimulatorError):
        purpose_consents("not base64!")
