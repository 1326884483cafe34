"""Rules that relate several policy entries (the JSON Schema checks each entry alone).

Each check takes the parsed document, tolerates entries the schema already rejected (wrong
types are skipped, not re-reported) and returns ``(location, message)`` pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pipeline.policy.erasure import erasure_problems
from pipeline.policy.fields import ALLOWED, BASES, CONSENT_BASES, LEDGER, OBJECTABLE_BASES
from pipeline.policy.publication import publication_problems

Problem = tuple[str, str]

PURPOSE_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
"""Purpose names end up in topic names (``sanitized.<purpose>.v1``) and DuckDB values."""

TCF_PURPOSES: Final = range(1, 12)
"""TCF v2.2 defines purposes 1 to 11."""
TCF_SPECIAL_FEATURES: Final = range(1, 3)
"""TCF v2.2 defines special features 1 (precise geolocation) and 2 (device scanning)."""


def semantic_problems(doc: Mapping[str, Any]) -> list[Problem]:
    """Every cross-entry mistake of ``doc``, in file order."""
    purposes = _mapping(doc.get("purposes"))
    problems: list[Problem] = []
    for name, purpose in purposes.items():
        problems.extend(_purpose_problems(name, _mapping(purpose)))
    problems.extend(_health_problems(_mapping(doc.get("health"))))
    problems.extend(_ledger_problems(_mapping(doc.get("consent_ledger")), purposes))
    tcf = _mapping(doc.get("tcf"))
    problems.extend(_tcf_problems(_mapping(tcf.get("purposes")), purposes))
    problems.extend(_tcf_problems(_mapping(tcf.get("special_features")), purposes, "special"))
    problems.extend(publication_problems(_mapping(doc.get("publication"))))
    problems.extend(erasure_problems(_mapping(doc.get("erasure")), doc.get("grace_seconds")))
    return problems


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _purpose_problems(name: str, purpose: Mapping[str, Any]) -> Iterator[Problem]:
    where = f"purposes.{name}"
    if name == LEDGER:
        yield where, f"'{LEDGER}' is reserved for consent-ledger keys; rename the purpose"
    elif not PURPOSE_NAME.fullmatch(name):
        yield where, "purpose names must be lower-case letters, digits and _ (max 48)"
    raw_basis = purpose.get("basis")
    if isinstance(raw_basis, str) and raw_basis in BASES:
        yield from _basis_problems(where, raw_basis, purpose)
    fields = _mapping(purpose.get("fields"))
    lat, lon = fields.get("lat"), fields.get("lon")
    if lat in ALLOWED["lat"] and lon in ALLOWED["lon"] and lat != lon:
        yield f"{where}.fields.lon", "lat and lon must have the same treatment"


def _basis_problems(where: str, basis: str, purpose: Mapping[str, Any]) -> Iterator[Problem]:
    consent, needs_consent = purpose.get("consent_required"), basis in CONSENT_BASES
    if isinstance(consent, bool) and consent != needs_consent:
        need = "true" if needs_consent else "false"
        yield f"{where}.consent_required", f"must be {need} for basis '{basis}'"
    if purpose.get("objectable") is True and basis not in OBJECTABLE_BASES:
        yield (
            f"{where}.objectable",
            "only legitimate-interest purposes can be objected to; consent is withdrawn instead",
        )
    streams = purpose.get("streams")
    if basis == "consent" and isinstance(streams, list) and "geolocation" in streams:
        yield (
            f"{where}.basis",
            "location is sensitive (seed: « consentement spécifique et exprès »): "
            "use 'explicit_consent' for a consent purpose reading the geolocation stream",
        )


def _health_problems(health: Mapping[str, Any]) -> Iterator[Problem]:
    patterns = health.get("patterns")
    if not isinstance(patterns, list):
        return
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            yield f"health.patterns[{index}]", f"invalid regular expression: {exc}"


def _ledger_problems(ledger: Mapping[str, Any], purposes: Mapping[str, Any]) -> Iterator[Problem]:
    retention = ledger.get("retention_days")
    if not isinstance(retention, int) or isinstance(retention, bool):
        return
    longest = max(
        (
            (p["retention_days"], name)
            for name, p in purposes.items()
            if isinstance(p, Mapping) and type(p.get("retention_days")) is int
        ),
        default=None,
    )
    if longest is not None and retention < longest[0]:
        yield (
            "consent_ledger.retention_days",
            (
                f"proof of consent must outlive the data: at least {longest[0]} "
                f"(purposes.{longest[1]}.retention_days)"
            ),
        )


def _tcf_problems(
    table: Mapping[str, Any], purposes: Mapping[str, Any], kind: str = "purpose"
) -> Iterator[Problem]:
    numbers, section, label = (
        (TCF_PURPOSES, "purposes", "purpose")
        if kind == "purpose"
        else (TCF_SPECIAL_FEATURES, "special_features", "special feature")
    )
    for key, names in table.items():
        where = f"tcf.{section}.{key}"
        if not key.isdigit() or int(key) not in numbers:
            yield where, f"unknown TCF {label}; TCF v2.2 {label}s are numbered 1 to {numbers[-1]}"
        if not isinstance(names, list):
            continue
        for name in names:
            if not isinstance(name, str):
                continue
            if name not in purposes:
                yield where, f"unknown purpose '{name}'; define it under [purposes.{name}]"
                continue
            basis = _mapping(purposes[name]).get("basis")
            if isinstance(basis, str) and basis not in CONSENT_BASES:
                yield where, f"purpose '{name}' does not rest on consent; TCF cannot grant it"
