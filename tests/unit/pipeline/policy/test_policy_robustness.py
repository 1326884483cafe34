"""Whatever a policy file holds, loading either builds a policy or raises PolicyError."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.policy import Policy, PolicyError, load_policy, policy_from_document

DOC = tomllib.loads(resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2000),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["keep", "drop", "consent", "month", "(", "geolocation"]),
)
values = st.recursive(
    scalars.filter(lambda v: v is not None),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


PATHS = _paths(DOC)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_corrupted_documents_never_crash_the_loader(
    edits: list[tuple[tuple[Any, ...], Any]],
) -> None:
    doc = copy.deepcopy(DOC)
    for path, value in edits:
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced this branch
    try:
        policy = policy_from_document(doc)
    except PolicyError as exc:
        assert exc.problems
        assert all(": " in p and "\n" not in p for p in exc.problems)
        return
    assert isinstance(policy, Policy)


def test_an_empty_file_lists_every_required_entry(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    try:
        load_policy(path)
    except PolicyError as exc:
        assert "purposes: missing" in exc.problems
        assert "k_threshold: missing" in exc.problems
        assert len(exc.problems) == 10
    else:
        raise AssertionError("an empty policy loaded")
