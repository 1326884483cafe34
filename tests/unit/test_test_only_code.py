"""Test-only code stays out of the product: the installed packages hold no test generator and
import nothing from ``tests`` (which is not installed, so such an import breaks the product)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pipeline", "processors", "schemas", "keys")
TEST_ONLY = ("synthetic", "leakscan", "mutations", "adversarial", "fuzzbase")


def _product_sources() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` statement in ``path`` names (absolute)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_product_sources_are_found() -> None:
    """Guards the two scans below against passing on an empty list (e.g. a moved root)."""
    assert len(_product_sources()) > 100


def test_no_test_only_module_in_the_product_packages() -> None:
    misplaced = [str(p.relative_to(ROOT)) for p in _product_sources() if p.stem in TEST_ONLY]
    assert misplaced == []
    assert all((ROOT / "tests" / "support" / f"{name}.py").is_file() for name in TEST_ONLY)


def test_no_product_module_imports_tests() -> None:
    offenders = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in _product_sources()
        for name in _imported_modules(p)
        if name == "tests" or name.startswith("tests.") or name.startswith("benchmarks")
    }
    assert offenders == set()


def test_package_discovery_installs_the_product_only() -> None:
    """The packages pyproject's ``find`` selects: every product package, no test or bench script."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    # pyproject's [tool.setuptools.packages.find] searches namespace packages unless told not to.
    namespaces = find.get("namespaces", True)
    finder = setuptools.find_namespace_packages if namespaces else setuptools.find_packages
    found = finder(where=str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    assert set(PRODUCT) <= set(found)
    assert [p for p in found if p.split(".")[0] not in PRODUCT] == []


def _benchmarks_using_support() -> list[str]:
    return sorted(
        p.stem
        for p in (ROOT / "benchmarks").glob("*.py")
        if any(n.startswith("tests.support") for n in _imported_modules(p))
    )


def test_benchmarks_run_as_documented_import_the_test_support() -> None:
    """``python -m benchmarks.<name>`` from the root (as the docs say) resolves ``tests.support``,
    which is not installed: ``--help`` exits 0 only once every import has succeeded."""
    names = _benchmarks_using_support()
    assert names, "no benchmark imports tests.support: this test checks nothing any more"
    for name in names:
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (name, done.stderr[-2000:])
