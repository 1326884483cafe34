"""Print the product's module tree, one line per module with its docstring's first line.

docs/ARCHITECTURE.md holds its output between the ``module-tree`` markers, and
tests/unit/test_architecture_tree.py fails when the two differ. Regenerate with
``.venv/bin/python scripts/module_tree.py --write``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "processors", "keys", "pipeline")
DOC = ROOT / "docs" / "ARCHITECTURE.md"
START, END = "<!-- module-tree:start -->", "<!-- module-tree:end -->"


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")


def _lines(folder: Path, depth: int) -> list[str]:
    out: list[str] = []
    pad = "    " * depth
    for path in sorted(folder.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            out.append(f"{pad}{path.name}/  {_summary(path / '__init__.py')}".rstrip())
            out.extend(_lines(path, depth + 1))
        elif path.suffix == ".py" and path.name != "__init__.py":
            out.append(f"{pad}{path.name:<22} {_summary(path)}".rstrip())
    return out


def tree() -> str:
    """The whole tree as the text between the markers."""
    lines: list[str] = []
    for package in PACKAGES:
        lines.append(f"{package}/  {_summary(ROOT / package / '__init__.py')}".rstrip())
        lines.extend(_lines(ROOT / package, 1))
    return "```text\n" + "\n".join(lines) + "\n```"


def in_doc() -> str:
    """The text between the markers in docs/ARCHITECTURE.md."""
    text = DOC.read_text(encoding="utf-8")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    """Print the tree, or write it into docs/ARCHITECTURE.md with ``--write``."""
    if "--write" in sys.argv[1:]:
        text = DOC.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        DOC.write_text(f"{head}{START}\n{tree()}\n{END}{rest.split(END, 1)[1]}",
                       encoding="utf-8")
    else:
        print(tree())


if __name__ == "__main__":
    main()
