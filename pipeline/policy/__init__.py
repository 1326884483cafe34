"""The processing policy: purposes, legal bases, retention, field treatments (DESIGN.md § 5).

Usage::

    from pipeline.policy import load_policy
    policy = load_policy(settings.policy)      # None: the policy shipped in the package
    policy.purposes["advertising"].fields["campaign"]   # "keep"
"""

from __future__ import annotations

from pipeline.policy.exceptions import PolicyError, TcStringError
from pipeline.policy.fields import (
    ALL_FIELDS,
    DESIGN_PURPOSES,
    IDENTIFIER_FIELDS,
    LEDGER,
    STREAM_FIELDS,
    TREATMENTS,
    Basis,
    Epoch,
    Stream,
    Treatment,
)
from pipeline.policy.loader import load_policy, policy_from_document, validate_document
from pipeline.policy.model import LedgerSpec, Policy, Purpose
from pipeline.policy.tcf import tcf_purposes
from pipeline.policy.tcstring import TcString, decode_tc_string

__all__ = [
    "ALL_FIELDS",
    "DESIGN_PURPOSES",
    "IDENTIFIER_FIELDS",
    "LEDGER",
    "STREAM_FIELDS",
    "TREATMENTS",
    "Basis",
    "Epoch",
    "LedgerSpec",
    "Policy",
    "PolicyError",
    "Purpose",
    "Stream",
    "TcString",
    "TcStringError",
    "Treatment",
    "decode_tc_string",
    "load_policy",
    "policy_from_document",
    "tcf_purposes",
    "validate_document",
]
