"""The strict decoder against the IAB's official encoder/decoder (@iabtechlabtcf/core 1.5.21).

``tests/vectors/tcf/tcf_vectors.json`` is written by ``tests/vectors/tcf/make_vectors.mjs``
(committed with it); this suite reads only the JSON and needs no JavaScript.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.policy import TcString, TcStringError, decode_tc_string, load_policy, tcf_purposes
from pipeline.policy.tcstring import vendor_ids

DATA = json.loads(
    (Path(__file__).parents[3] / "vectors" / "tcf" / "tcf_vectors.json").read_text("utf-8")
)
VECTORS: list[dict[str, Any]] = DATA["vectors"]
TRUNCATIONS: list[dict[str, Any]] = DATA["truncations"]
BY_NAME = {v["name"]: v for v in VECTORS}


def fields(tc: TcString) -> dict[str, Any]:
    """Our decode, in the vector file's vocabulary."""
    pub = tc.publisher_tc
    return {
        "version": tc.version,
        "created_ds": round(tc.created.timestamp() * 10),
        "last_updated_ds": round(tc.last_updated.timestamp() * 10),
        "cmp_id": tc.cmp_id,
        "cmp_version": tc.cmp_version,
        "consent_screen": tc.consent_screen,
        "consent_language": tc.consent_language,
        "vendor_list_version": tc.vendor_list_version,
        "policy_version": tc.policy_version,
        "is_service_specific": tc.is_service_specific,
        "use_non_standard_texts": tc.use_non_standard_texts,
        "special_feature_opt_ins": sorted(tc.special_feature_opt_ins),
        "purposes_consent": sorted(tc.purposes_consent),
        "purposes_li_transparency": sorted(tc.purposes_li_transparency),
        "purpose_one_treatment": tc.purpose_one_treatment,
        "publisher_cc": tc.publisher_cc,
        "vendor_consents": sorted(vendor_ids(tc.vendor_consents)),
        "vendor_li": sorted(vendor_ids(tc.vendor_li)),
        "publisher_restrictions": sorted(
            (
                {"purpose": r.purpose, "type": r.type, "vendors": sorted(vendor_ids(r.vendors))}
                for r in tc.publisher_restrictions
            ),
            key=lambda r: (r["purpose"], r["type"]),
        ),
        "vendors_disclosed": sorted(vendor_ids(tc.vendors_disclosed or ())),
        "publisher_consents": sorted(pub.purposes_consent) if pub else [],
        "publisher_li": sorted(pub.purposes_li_transparency) if pub else [],
        "num_custom_purposes": pub.num_custom_purposes if pub else 0,
        "publisher_custom_consents": sorted(pub.custom_consent) if pub else [],
        "publisher_custom_li": sorted(pub.custom_li_transparency) if pub else [],
    }


def test_the_vectors_are_varied() -> None:
    decoded = [decode_tc_string(v["string"]) for v in VECTORS]
    assert any(tc.publisher_restrictions for tc in decoded)
    assert any(tc.purpose_one_treatment for tc in decoded)
    assert any(tc.publisher_tc and tc.publisher_tc.num_custom_purposes for tc in decoded)
    assert any(tc.vendors_disclosed for tc in decoded)
    assert any(tc.vendor_li for tc in decoded)
    assert {tc.policy_version for tc in decoded} == {4, 5}
    assert any(1 not in tc.special_feature_opt_ins for tc in decoded)
    # Range encoding: 2000 as a bitfield would need 2000 bits; the string is far shorter.
    sparse = BY_NAME["sparse_vendors_range"]
    assert 2000 in sparse["fields"]["vendor_consents"] and len(sparse["string"]) < 120


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_official_vector_decodes_to_the_official_fields(vector: dict[str, Any]) -> None:
    assert fields(decode_tc_string(vector["string"])) == vector["fields"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_truncation_into_a_field_is_refused(vector: dict[str, Any]) -> None:
    """A cut that removes any bit of any field is refused; none is ever read partially.

    The only cuts accepted remove zero padding (< 24 bits, which the official decoder also
    accepts) or whole optional segments; they decode to exactly the original fields.
    """
    refused = 0
    for cut in (t for t in TRUNCATIONS if t["name"] == vector["name"]):
        try:
            got = decode_tc_string(cut["string"])
        except TcStringError as exc:
            assert exc.reason in {"truncated", "missing_segment", "encoding"}
            refused += 1
            continue
        assert not cut["official_refuses"], cut  # we accept nothing the IAB refuses
        # What is left is the first segments whole, the last one minus zero padding at most.
        prefix = ".".join(vector["string"].split(".")[: cut["string"].count(".") + 1])
        assert set(prefix[len(cut["string"]) :]) <= {"A"}
        assert got == decode_tc_string(prefix)
    assert refused >= len(vector["string"]) - 12


def test_every_truncation_the_official_decoder_refuses_we_refuse() -> None:
    refused_by_iab = [t for t in TRUNCATIONS if t["official_refuses"]]
    assert len(refused_by_iab) > 500
    for cut in refused_by_iab:
        with pytest.raises(TcStringError):
            decode_tc_string(cut["string"])


def test_one_character_cut_grants_nothing() -> None:
    policy = load_policy()
    full = BY_NAME["all_purposes_bitfield"]["string"]
    core = full.split(".")[0]
    assert tcf_purposes(full, policy)["audience_measurement"] is True
    with pytest.raises(TcStringError) as caught:
        tcf_purposes(core[:-9], policy)  # past the padding, into NumPubRestrictions
    assert caught.value.reason == "truncated"


def test_special_feature_1_opted_out_denies_geolocation() -> None:
    policy = load_policy()
    out = tcf_purposes(BY_NAME["special_feature_1_opted_out"]["string"], policy)
    assert out["geolocation"] is False
    assert out["audience_measurement"] is True  # every TCF purpose consented
    opted_in = tcf_purposes(BY_NAME["all_purposes_bitfield"]["string"], policy)
    assert "geolocation" not in opted_in  # opting in grants nothing by itself


def test_purpose_one_treatment_reads_purpose_one_as_refused() -> None:
    vector = BY_NAME["purpose_one_treatment"]
    assert vector["fields"]["purpose_one_treatment"] is True
    out = tcf_purposes(vector["string"], load_policy())
    # Advertising needs 1, 2, 3, 4, 7: 2-4 consented, 1 not asked, so refused.
    assert out["advertising"] is False


def test_publisher_segment_must_also_consent() -> None:
    # Core consents 1, 7, 8; publisher segment 1, 9: by "both", only 1 counts.
    vector = BY_NAME["publisher_tc_segment"]
    assert tcf_purposes(vector["string"], load_policy())["audience_measurement"] is False
