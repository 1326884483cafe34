"""TC string decoding against public test vectors, and the all-mapped-purposes rule."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from pipeline.policy import (
    Policy,
    PolicyError,
    TcStringError,
    decode_tc_string,
    load_policy,
    tcf_purposes,
)

# Public vectors with their documented purpose consents:
# - four strings of a public CMP test suite (isPurposeConsentSet, purposes 1..10);
# - the IAB spec example parsed by the GDPR::IAB::TCFv2 Perl distribution (t/01-parse.t);
# - an iabtcf-java decode quoted in the Ketch Android SDK tests;
# - a TCF v2.3 string (policy version 5) from GDPR::IAB::TCFv2 t/05-tcf-v23.t.
VENDORS = "II7Nd_X__bX9n-_7_6ft0eY1f9_r37uQzDhfNs-8F3L_W_LwX32E7NF36tq4KmR4ku1bBIQNtHMnUDUmxaolVrzHsak2cpyNKJ_JkknsZe2dYGF9Pn9lD-YKZ7_5_9_f52T_9_9_-39z3_9f___dv_-__-vjf_599n_v9fV_78_Kf9______-____________8A"  # noqa: E501
ODD = f"CPh7_cXPh7_cXKMAAAENCZCAAKqAAAAAAAAAAAAAAAAA.{VENDORS}"
EVEN = f"CPh8CeXPh8CeXMgAAAENCZCAAFVAAAAAAAAAAAAAAAAA.{VENDORS}"
ALL_TEN = f"CPh8CoIPh8CoINYAAAENCZCAAP_AAAAAAAAAAAAAAAAA.{VENDORS}"
NONE = f"CPh8CjOPh8CjOEZAAAENCZCAAAAAAAAAAAAAAAAAAAAA.{VENDORS}"
IAB_EXAMPLE = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA"  # noqa: E501
KETCH = "CPhBZtcPhBZtcACABAENCACgAIAAAAAAAAAAH2QAYH0AfYB9kAGB9YH2AAAA.YAAAAAAAAAAA"
V23 = "CP188cAQKFpAAAHABBENBSFsAP_gAEPgAAiQKqNX_H__bW9r8X73aft0eY1P9_j77uQxBhfJE-4FzLvW_JwXx2ExNA36tqIKmRIEu3bBIQNlHJHUTVigaogVryHMak2cpTNKJ6BkiFMRM2dYCF5vm4tj-QKY5_r993dx2D-t_dv83dzyz81Hn3f5_2e0eLCdQ5-tDfv9bROb-9IPd_78v4v8_l_rk2_eT1n_tevr7D_-ft8__XW_9_fff_9Pn_-uB_-_3_vf_EFUwCTDQqIA-wJCQg0DCKBACoKwgIoFAQAAJA0QEAJgwKdgYALrCRACAFAAMEAIAAQZAAgAAAgAQiACQAoEAAEAgUAAYAEAwEABAwAAgAsBAIAAQHQMUwIIFAsIEjMioUwIQoEggJbKhBICgQVwhCLPAIgERMFAAgAAAVgACAsFgcSSAlQkECXUG0AABAAgFEIFQgk9MAAwJmy1B4MG0ZWmAYPmCRDTAMgCIIyEAAAA.f_wACHwAAAAA"  # noqa: E501

DEFAULT = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")


def policy_with(tmp_path: Path, *edits: tuple[str, str]) -> Policy:
    text = DEFAULT
    for old, new in edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


ACCEPT_V2_0 = ("min_policy_version = 4", "min_policy_version = 2")


@pytest.mark.parametrize(
    ("tc_string", "consented"),
    [
        (ODD, {1, 3, 5, 7, 9}),
        (EVEN, {2, 4, 6, 8, 10}),
        (ALL_TEN, set(range(1, 11))),
        (NONE, set()),
        (KETCH, {1}),
    ],
)
def test_purpose_consents_of_public_vectors(tc_string: str, consented: set[int]) -> None:
    assert decode_tc_string(tc_string).purposes_consent == consented


def test_the_spec_example_is_refused_for_its_overlong_publisher_segment() -> None:
    # Its publisher TC segment carries 57 zero bits after its last field: more than any
    # encoder pads (the IAB's pads to 24 bits), so the segment is not consistent with itself.
    with pytest.raises(TcStringError, match="trailing_data") as caught:
        decode_tc_string(IAB_EXAMPLE)
    assert caught.value.reason == "trailing_data"
    # Its core segment alone decodes completely, with the fields the spec documents.
    tc = decode_tc_string(IAB_EXAMPLE.split(".")[0])
    assert tc.created == datetime.fromtimestamp(1228644257.7, tz=UTC)
    assert tc.last_updated == datetime.fromtimestamp(1326215413.4, tz=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_language) == (21, 7, "EN")
    assert (tc.vendor_list_version, tc.policy_version) == (23, 2)
    assert tc.is_service_specific is True
    assert tc.purposes_consent == {1, 3, 9, 10}
    assert tc.purposes_li_transparency == {3, 4, 5, 8, 9, 10}
    assert tc.special_feature_opt_ins == {2}


def test_core_fields_of_the_ketch_vector() -> None:
    tc = decode_tc_string(KETCH)
    assert tc.created == datetime(2022, 10, 17, 13, 44, 54, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version) == (2, 1, 128)
    assert tc.purposes_li_transparency == frozenset()


def test_tcf_v2_3_string_without_disclosed_vendors_is_refused() -> None:
    # TCF v2.3 (policy version 5) makes the disclosed-vendors segment mandatory; this string
    # has a publisher TC segment only.
    with pytest.raises(TcStringError) as caught:
        tcf_purposes(V23, load_policy())
    assert caught.value.reason == "missing_segment"
    assert decode_tc_string(V23.split(".")[0] + ".IAAA").policy_version == 5


def test_purpose_is_granted_only_when_all_its_tcf_purposes_are(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, ACCEPT_V2_0)
    assert tcf_purposes(ALL_TEN, policy) == {
        "audience_measurement": True,
        "personalisation": True,
        "advertising": True,
        "geolocation": False,  # special feature 1 not opted in
    }
    # 1, 3, 5, 7, 9: every one of ours misses one TCF purpose (8, 6, 2 and 4).
    assert tcf_purposes(ODD, policy) == dict.fromkeys(
        ("audience_measurement", "personalisation", "advertising", "geolocation"), False
    )
    assert set(tcf_purposes(NONE, policy).values()) == {False}


def test_partial_tcf_answer_grants_exactly_the_complete_purposes(tmp_path: Path) -> None:
    # ODD consents to 1, 3, 5, 7, 9: with audience measurement needing 1 and 9 only, it is
    # granted; advertising (1, 2, 3, 4, 7) and personalisation (1, 5, 6) are not.
    policy = policy_with(tmp_path, ACCEPT_V2_0, ('8 = ["audience_measurement"]', "8 = []"))
    assert tcf_purposes(ODD, policy) == {
        "audience_measurement": True,
        "personalisation": False,
        "advertising": False,
        "geolocation": False,
    }


def test_unmapped_purposes_are_not_decided_by_tcf(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, ACCEPT_V2_0, ('1 = ["geolocation"]  ', '1 = []  '))
    decided = tcf_purposes(ALL_TEN, policy)
    assert "geolocation" not in decided
    assert "fraud_prevention" not in decided


def test_policy_version_below_the_minimum_is_refused() -> None:
    with pytest.raises(
        TcStringError, match="TcfPolicyVersion 2 is older than the policy's minimum 4"
    ):
        tcf_purposes(ALL_TEN, load_policy())


@pytest.mark.parametrize(
    ("tc_string", "reason"),
    [
        ("", "encoding"),
        ("not-a-valid-tc-string!@#$", "encoding"),
        ("CPh7_cXPh7_cXKMAAAENCZCA??????????AAAAAAAAAAAAAAA.II7Nd_X__bX9n", "encoding"),
        ("CPh7_cXPh7", "truncated"),
        ("BPh8CjOPh8CjOEZAAAENCZCAAAAAAAAAAAAAAAAAAAAA", "version"),
        (".CPh8CoIPh8CoINYAAAENCZCAAP_AAAAAAAAAAAAAAAAA", "encoding"),
        (f"{ALL_TEN}.", "encoding"),
        (f"{ALL_TEN}=", "encoding"),
        (f"{ALL_TEN}.IAAA.IAAA", "segment_type"),  # disclosed vendors twice
        (f"{ALL_TEN}.QAAA", "segment_type"),  # allowed vendors: not TCF v2.2
        (f"{ALL_TEN}.AAAA", "segment_type"),  # a second core segment
        (f"{ALL_TEN}.8AAA", "segment_type"),  # type 7: undefined
        (f"{ALL_TEN}AAAA", "trailing_data"),  # 24 more zero bits than the fields need
        (f"{ALL_TEN[:-1]}B", "trailing_data"),  # a set bit after the last field
    ],
)
def test_malformed_tc_strings_raise_a_typed_error(tc_string: str, reason: str) -> None:
    with pytest.raises(TcStringError) as caught:
        tcf_purposes(tc_string, load_policy())
    assert caught.value.reason == reason
    assert f"({reason})" in str(caught.value)
    assert isinstance(caught.value, PipelineError)
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, PolicyError)
    if len(tc_string) > 8:
        assert tc_string[:12] not in str(caught.value)  # never echoes the string


@given(st.text(max_size=120))
def test_any_text_decodes_or_raises_tc_string_error(text: str) -> None:
    try:
        decoded = decode_tc_string(text)
    except TcStringError:
        return
    assert decoded.version == 2
    assert decoded.purposes_consent <= set(range(1, 25))
