"""docs/ARCHITECTURE.md shows the module tree as it is (one line per module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "module_tree.py"


def _module_tree() -> ModuleType:
    spec = importlib.util.spec_from_file_location("module_tree", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_tree_lists_every_module() -> None:
    tree = _module_tree()
    assert tree.in_doc() == tree.tree(), (
        "docs/ARCHITECTURE.md's module tree is stale: run "
        ".venv/bin/python scripts/module_tree.py --write")


def test_every_module_has_a_line() -> None:
    tree = _module_tree()
    root = SCRIPT.parent.parent
    text = tree.tree()
    for package in tree.PACKAGES:
        for path in (root / package).rglob("*.py"):
            if path.name != "__init__.py":
                assert f" {path.name} " in f"{text} " or f" {path.name}\n" in text, path
