"""Print (or write into README.md) the table of PRIVACY_PIPELINE_* settings.

The table is generated from :class:`pipeline.settings.Settings`: each field's env var, default
and the first sentence of its attribute docstring. ``--write`` replaces the block between the
``settings-table`` markers in README.md.

Usage: ``.venv/bin/python scripts/settings_table.py [--write]``
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import sys
from pathlib import Path

from pipeline.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _docstrings() -> dict[str, str]:
    """Attribute docstrings of Settings (the string right after each annotated field)."""
    tree = ast.parse(inspect.getsource(Settings))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            text = " ".join(nxt.value.value.split())
            docs[node.target.id] = text.split(" Env: ")[0].strip()
    return docs


def _default(field: dataclasses.Field[object]) -> str:
    value = field.default
    if value is None:
        return "—"
    text = str(value).replace(str(Path.home()), "~")
    return f"`{text}`"


def table() -> str:
    """The markdown table, one row per setting."""
    docs = _docstrings()
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in dataclasses.fields(Settings):
        doc = docs.get(field.name, "").replace("|", "\\|")
        rows.append(f"| `{field.metadata['env']}` | {_default(field)} | {doc} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    """Print the table, or write it into README.md with ``--write``."""
    if "--write" not in argv:
        print(table())
        return 0
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        print(f"{README} has no {START} marker", file=sys.stderr)
        return 1
    README.write_text(f"{head}{START}\n{table()}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
