"""Helpers of the policy tests: the default policy as a document, and what a loader refuses."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import pytest

from pipeline.policy import PolicyError, policy_from_document

DEFAULT = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")


def default_doc() -> dict[str, Any]:
    """A fresh copy of the shipped policy, to change one field at a time."""
    return tomllib.loads(DEFAULT)


def problems(doc: dict[str, Any]) -> tuple[str, ...]:
    """The problems the loader reports for ``doc`` (it must refuse it)."""
    with pytest.raises(PolicyError) as caught:
        policy_from_document(doc)
    return caught.value.problems
