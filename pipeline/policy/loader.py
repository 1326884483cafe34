"""Load a policy file (TOML), validate all of it, and build a :class:`Policy`.

Validation never stops at the first mistake: the JSON Schema (:mod:`pipeline.policy.schema`)
reports every structural one, :mod:`pipeline.policy.checks` every cross-entry one, and a single
:class:`PolicyError` lists them all with their location.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from pipeline.policy.checks import Problem, semantic_problems
from pipeline.policy.erasure import build_erasure
from pipeline.policy.exceptions import PolicyError
from pipeline.policy.fields import ALL_FIELDS, ALLOWED, DEFAULT_TREATMENT, TREATMENTS
from pipeline.policy.model import LedgerSpec, Policy, Purpose
from pipeline.policy.publication import build_publication
from pipeline.policy.register import build_register
from pipeline.policy.schema import policy_schema

DEFAULT_SOURCE: Final = "default.toml (shipped with privacy-pipeline)"
DEFAULT_TCF_POLICY_VERSION: Final = 4
"""TCF v2.2; used when the file has no ``[tcf]`` table."""

_VALIDATOR: Final = Draft202012Validator(policy_schema())


def load_policy(path: Path | None = None) -> Policy:
    """Read, validate and build the policy.

    Args:
        path: A policy file, or ``None`` for the policy shipped in the package
            (``pipeline/policy/default.toml``); callers pass ``settings.policy``.

    Returns:
        The validated, immutable policy.

    Raises:
        PolicyError: the file cannot be read, is not TOML, or has mistakes; the message is one
            line listing every mistake as ``location: what is wrong``.
    """
    source, text = _read(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, [f"invalid TOML: {exc}"]) from None
    return policy_from_document(doc, source)


def policy_from_document(doc: Mapping[str, Any], source: str = "<document>") -> Policy:
    """Validate an already parsed policy document (TOML tables as dicts) and build it.

    Args:
        doc: The document, e.g. ``tomllib.loads(text)``.
        source: How error messages name it.

    Raises:
        PolicyError: the document has mistakes; the message lists every one.
    """
    problems = validate_document(doc)
    if problems:
        raise PolicyError(source, problems)
    return _build(source, doc)


def validate_document(doc: Mapping[str, Any]) -> list[str]:
    """Every mistake of a parsed policy document, as ``"location: message"`` strings."""
    found: list[Problem] = []
    for error in _VALIDATOR.iter_errors(doc):
        found.extend(_describe(error))
    found.extend(semantic_problems(doc))
    return list(dict.fromkeys(f"{where}: {what}" for where, what in found))


def _read(path: Path | None) -> tuple[str, str]:
    if path is None:
        resource = resources.files("pipeline.policy").joinpath("default.toml")
        return DEFAULT_SOURCE, resource.read_text(encoding="utf-8")
    source = str(path)
    try:
        return source, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        why = "file not found; set PRIVACY_PIPELINE_POLICY to an existing file or unset it"
    except IsADirectoryError:
        why = "is a directory; PRIVACY_PIPELINE_POLICY must name a TOML file"
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        why = f"cannot be read: {exc.strerror}"
    raise PolicyError(source, [why])


# --- turning JSON Schema errors into "location: message" ------------------------------------


def _location(path: Iterable[str | int]) -> str:
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            parts.append(part)
        else:
            parts.append(f'"{part}"')
    return ".".join(parts) or "(top level)"


def _describe(error: ValidationError) -> Iterator[Problem]:
    path = list(error.absolute_path)
    where = _location(path)
    kind, value = error.validator, error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    expected = error.validator_value if isinstance(error.validator_value, list) else []
    if kind == "required" and isinstance(value, Mapping):
        for name in expected:
            if name not in value:
                yield _location([*path, name]), _missing(path, name)
    elif kind == "additionalProperties" and isinstance(value, Mapping):
        known = schema.get("properties", {})
        for name in value:
            if name not in known:
                yield _location([*path, name]), _unknown_key(path, list(known))
    elif kind == "enum":
        yield where, _not_allowed(path, value, expected)
    elif kind in ("type", "minimum", "maximum"):
        yield where, f"{_expected(schema)}{_got(value)}"
    elif kind == "minLength":
        yield where, "must not be empty"
    elif kind == "minItems":
        yield where, "must list at least one entry"
    elif kind == "uniqueItems":
        yield where, "lists the same entry twice"
    else:
        yield where, error.message


def _missing(path: list[str | int], name: str) -> str:
    if path == ["purposes"]:
        return "missing; DESIGN.md section 5 requires this purpose in every policy"
    if path[-1:] == ["fields"]:
        return f"missing; identifier fields need an explicit treatment: {_one_of(ALLOWED[name])}"
    return "missing"


def _unknown_key(path: list[str | int], known: list[str]) -> str:
    if path[-1:] == ["fields"]:
        return f"unknown field; known fields: {', '.join(ALL_FIELDS)}"
    return f"unknown key; expected {_one_of(known)}"


def _not_allowed(path: list[str | int], value: object, allowed: list[str]) -> str:
    if len(path) >= 2 and path[-2] == "fields":
        if value not in TREATMENTS:
            return f"unknown treatment {value!r}; {path[-1]} takes {_one_of(allowed)}"
        return f"{value!r} is not allowed for {path[-1]}; use {_one_of(allowed)}"
    return f"{value!r} is not allowed; use {_one_of(allowed)}"


def _expected(schema: Mapping[str, Any]) -> str:
    kind, low, high = schema.get("type"), schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        if high is not None:
            return f"must be an integer from {low} to {high}"
        return "must be a positive integer" if low == 1 else f"must be an integer ≥ {low}"
    if kind == "number" and low is not None and high is not None:
        return f"must be a number from {low} to {high}"
    names = {"boolean": "true or false", "string": "a string", "array": "a list"}
    return f"must be {names.get(str(kind), 'a table')}"


def _got(value: object) -> str:
    return "" if isinstance(value, dict | list) else f" (got {value!r})"


def _one_of(names: Iterable[str]) -> str:
    listed = list(names)
    return listed[0] if len(listed) == 1 else "one of " + ", ".join(listed)


# --- building the model from a valid document ------------------------------------------------


def _build(source: str, doc: Mapping[str, Any]) -> Policy:
    health, ledger = doc["health"], doc["consent_ledger"]
    tcf = doc.get("tcf", {})
    return Policy(
        source=source,
        purposes=MappingProxyType(
            {name: _purpose(name, body) for name, body in doc["purposes"].items()}
        ),
        k_threshold=doc["k_threshold"],
        geohash_precision=doc["geohash_precision"],
        anonymous_counting=doc["anonymous_counting"],
        lateness_days=doc["lateness_days"],
        future_minutes=doc["future_minutes"],
        grace_seconds=doc["grace_seconds"],
        grace_max_events=doc["grace_max_events"],
        consent_ledger=LedgerSpec(ledger["epoch"], ledger["retention_days"]),
        health_screen_name=health["screen"],
        health_patterns=tuple(re.compile(p, re.IGNORECASE) for p in health["patterns"]),
        tcf_min_policy_version=tcf.get("min_policy_version", DEFAULT_TCF_POLICY_VERSION),
        tcf_requirements=_tcf_requirements(tcf.get("purposes", {})),
        tcf_special_features=_tcf_requirements(tcf.get("special_features", {})),
        tcf_purpose_one_treatment=tcf.get("purpose_one_treatment", "not_consented"),
        tcf_publisher_tc=tcf.get("publisher_tc", "both"),
        publication=build_publication(doc.get("publication")),
        erasure=build_erasure(doc.get("erasure")),
    )


def _purpose(name: str, body: Mapping[str, Any]) -> Purpose:
    given = body["fields"]
    return Purpose(
        name=name,
        label=body["label"],
        basis=body["basis"],
        consent_required=body["consent_required"],
        retention_days=body["retention_days"],
        epoch=body["epoch"],
        streams=frozenset(body["streams"]),
        gpc_denies=body["gpc_denies"],
        objectable=body["objectable"],
        fields=MappingProxyType({f: given.get(f, DEFAULT_TREATMENT) for f in ALL_FIELDS}),
        register=build_register(body["register"]),
    )


def _tcf_requirements(table: Mapping[str, list[str]]) -> Mapping[str, frozenset[int]]:
    needed: dict[str, set[int]] = {}
    for number, names in table.items():
        for name in names:
            needed.setdefault(name, set()).add(int(number))
    return MappingProxyType({name: frozenset(nums) for name, nums in needed.items()})
