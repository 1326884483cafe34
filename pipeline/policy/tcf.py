"""Map a strictly decoded IAB TCF v2.2 TC string to our purposes, as the policy's ``[tcf]`` says.

Hand-written rather than a dependency: the PyPI decoders (``iab-tcf``, last release 2022, and
its fork ``iab-tcf-bitarray``) predate TCF v2.2 and read strings partially. The decoder
(:mod:`pipeline.policy.tcstring`) is checked against vectors made by the IAB's own library.

Rules (the policy file documents them next to its settings):

- Only purpose *consents* count, never legitimate interest; a purpose of ours is granted only
  when every TCF purpose ``[tcf.purposes]`` maps to it is consented.
- ``[tcf.special_features]``: a special feature opted out denies the purposes listed under it
  (special feature 1, precise geolocation, gates ``geolocation`` by default); opted in, it
  grants nothing by itself (geolocation needs its own explicit consent, seed § 2).
- ``purpose_one_treatment``: with the PurposeOneTreatment bit set the CMP did not ask about
  purpose 1; ``not_consented`` (default) then reads purpose 1 as refused, ``waived`` removes
  purpose 1 from every requirement.
- ``publisher_tc``: ``both`` (default) counts a TCF purpose only when the user consented to
  it in the core segment and, if the string has one, in the publisher TC segment;
  ``ignore`` reads the core segment alone.
"""

from __future__ import annotations

from pipeline.policy.exceptions import TcStringError
from pipeline.policy.model import Policy
from pipeline.policy.tcstring import TcString, decode_tc_string

MAX_POLICY_VERSION = 5
"""Newest TcfPolicyVersion whose string format we know (5 = TCF v2.3, same fields as 4)."""


def consented_purposes(tc: TcString, policy: Policy) -> frozenset[int]:
    """TCF purposes the string counts as consented under the policy's reading rules."""
    consented = tc.purposes_consent
    if policy.tcf_publisher_tc == "both" and tc.publisher_tc is not None:
        consented = consented & tc.publisher_tc.purposes_consent
    if tc.purpose_one_treatment and policy.tcf_purpose_one_treatment == "not_consented":
        consented = consented - {1}
    return consented


def decide(tc: TcString, policy: Policy) -> dict[str, bool]:
    """``{purpose: granted}`` for every purpose of ours the decoded string decides."""
    consented = consented_purposes(tc, policy)
    waived = (
        frozenset({1})
        if tc.purpose_one_treatment and policy.tcf_purpose_one_treatment == "waived"
        else frozenset()
    )
    decided: dict[str, bool] = {}
    for name, needed in policy.tcf_requirements.items():
        if needed - waived:
            decided[name] = needed - waived <= consented
    for name, features in policy.tcf_special_features.items():
        if not features <= tc.special_feature_opt_ins:
            decided[name] = False
    return decided


def tcf_purposes(tc_string: str, policy: Policy) -> dict[str, bool]:
    """Our purposes a TC string decides (see the module docstring for the rules).

    Purposes neither table names (fraud_prevention by default) are absent from the result: a
    TC string says nothing about them.

    Args:
        tc_string: The ``tcf`` field of a consent/1 event.
        policy: The loaded policy (its ``[tcf]`` table).

    Returns:
        ``{purpose: granted}`` to apply as a partial consent update.

    Raises:
        TcStringError: the string does not decode completely, or its TcfPolicyVersion is
            outside the policy's minimum..``MAX_POLICY_VERSION`` (reason ``policy_version``).
    """
    tc = decode_tc_string(tc_string)
    if tc.policy_version < policy.tcf_min_policy_version:
        raise TcStringError(
            f"TC string refused (policy_version): TcfPolicyVersion {tc.policy_version} is "
            f"older than the policy's minimum {policy.tcf_min_policy_version}; the CMP must "
            "re-ask consent",
            reason="policy_version",
        )
    if tc.policy_version > MAX_POLICY_VERSION:
        raise TcStringError(
            f"TC string refused (policy_version): TcfPolicyVersion {tc.policy_version} is "
            f"newer than {MAX_POLICY_VERSION}, the newest this pipeline reads",
            reason="policy_version",
        )
    return decide(tc, policy)


__all__ = ["MAX_POLICY_VERSION", "TcString", "decide", "decode_tc_string", "tcf_purposes"]
