"""The structure of a policy file, as a JSON Schema (Draft 2020-12) built from the catalogue.

Structure only: types, allowed values, required and unknown keys. Rules that relate several
entries (basis versus consent, TCF references, regular expressions) live in
:mod:`pipeline.policy.checks`.
"""

from __future__ import annotations

from typing import Any, Final

from pipeline.policy.erasure import erasure_schema
from pipeline.policy.fields import (
    ALLOWED,
    BASES,
    DESIGN_PURPOSES,
    EPOCHS,
    IDENTIFIER_FIELDS,
    STREAMS,
)
from pipeline.policy.publication import publication_schema
from pipeline.policy.register import register_schema

MAX_GEOHASH_PRECISION: Final = 6
"""Longer geohashes (≤ 153 m cells from 7 on) are precise locations, not coarse cells."""


def _int(minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _strict_object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _purpose_schema() -> dict[str, Any]:
    fields = {
        "type": "object",
        "properties": {name: {"enum": list(allowed)} for name, allowed in ALLOWED.items()},
        "required": list(IDENTIFIER_FIELDS),
        "additionalProperties": False,
    }
    properties: dict[str, Any] = {
        "label": {"type": "string", "minLength": 1},
        "basis": {"enum": list(BASES)},
        "consent_required": {"type": "boolean"},
        "retention_days": _int(1),
        "epoch": {"enum": list(EPOCHS)},
        "streams": {
            "type": "array",
            "items": {"enum": list(STREAMS)},
            "minItems": 1,
            "uniqueItems": True,
        },
        "gpc_denies": {"type": "boolean"},
        "objectable": {"type": "boolean"},
        "fields": fields,
    }
    properties["register"] = register_schema()  # record of processing (issue 15)
    return _strict_object(properties, list(properties))


def policy_schema() -> dict[str, Any]:
    """The JSON Schema every policy document (parsed TOML) must satisfy."""
    globals_: dict[str, Any] = {
        "k_threshold": _int(2),
        "geohash_precision": _int(1, MAX_GEOHASH_PRECISION),
        "anonymous_counting": {"type": "boolean"},
        "lateness_days": _int(1),
        "future_minutes": _int(0),
        "grace_seconds": _int(0),
        "grace_max_events": _int(1),
    }
    health = _strict_object(
        {
            "screen": {"type": "string", "minLength": 1},
            "patterns": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
            },
        },
        ["screen", "patterns"],
    )
    ledger = _strict_object(
        {"epoch": {"enum": list(EPOCHS)}, "retention_days": _int(1)},
        ["epoch", "retention_days"],
    )
    tcf = _strict_object(
        {
            "min_policy_version": _int(2),
            "purpose_one_treatment": {"enum": ["not_consented", "waived"]},
            "publisher_tc": {"enum": ["both", "ignore"]},
            "special_features": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                },
            },
            "purposes": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                },
            },
        },
        ["purposes"],
    )
    purposes = {
        "type": "object",
        "required": list(DESIGN_PURPOSES),
        "additionalProperties": _purpose_schema(),
    }
    properties = {
        **globals_,
        "health": health,
        "consent_ledger": ledger,
        "purposes": purposes,
        "tcf": tcf,
    }
    properties["publication"] = publication_schema()  # optional: all threshold without it
    properties["erasure"] = erasure_schema()  # optional: the default bounds without it
    required = [name for name in properties if name not in ("tcf", "publication", "erasure")]
    return _strict_object(properties, required)
