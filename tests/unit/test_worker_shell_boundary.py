"""The faust shell's boundary: faust is imported in ``processors/worker/`` only, and the
consent core (the engine and every ``processors`` module it imports) imports no faust and no
Kafka client."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pipeline", "processors", "schemas", "keys")
SHELL = ROOT / "processors" / "worker"
FAUST = {"faust", "mode"}  # mode: faust's service framework
KAFKA = {"aiokafka", "kafka"}
ALLOWED_OUTSIDE = {ROOT / "benchmarks" / "faust_floor.py"}
"""faust's own floor, measured by the worker benchmark: a faust app by design."""


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """``(module, line)`` of every import in ``path`` (also inside functions)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def offenders(paths: Iterator[Path], roots: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for module, line in imported(path)
        if module.split(".")[0] in roots
    ]


def product_files() -> Iterator[Path]:
    for package in (*PRODUCT, "benchmarks"):
        yield from (ROOT / package).rglob("*.py")


def test_only_the_worker_shell_imports_faust() -> None:
    outside = (p for p in product_files() if SHELL not in p.parents and p not in ALLOWED_OUTSIDE)
    assert offenders(outside, FAUST) == []


def test_the_scan_sees_the_shell_s_faust_imports() -> None:
    """The scan itself works: the shell's own modules are found importing faust."""
    assert offenders(SHELL.rglob("*.py"), FAUST)


def core_modules() -> set[Path]:
    """``processors/engine.py`` and every ``processors`` module it imports, transitively."""
    seen: set[Path] = set()
    todo = [ROOT / "processors" / "engine.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, _ in imported(path):
            if module.split(".")[0] != "processors":
                continue
            parts = module.split(".")
            candidates = [ROOT.joinpath(*parts).with_suffix(".py"),
                          ROOT.joinpath(*parts, "__init__.py")]
            todo.extend(c for c in candidates if c.is_file())
    return seen


def test_the_consent_core_imports_no_faust_and_no_kafka_client() -> None:
    core = core_modules()
    assert ROOT / "processors" / "state.py" in core  # the walk follows imports
    assert not any(SHELL in p.parents for p in core)  # the core never reaches the shell
    assert offenders(iter(sorted(core)), FAUST | KAFKA) == []


def test_importing_the_engine_loads_neither_faust_nor_aiokafka() -> None:
    """Transitively too (a subprocess, so this test run's own imports do not count)."""
    probe = (
        "import sys, processors.engine; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'faust', 'mode', 'aiokafka'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
