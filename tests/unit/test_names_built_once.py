"""Topic, group and changelog names are built in one place (:class:`pipeline.topics.TopicNames`):
a product module that spells a contract topic, builds a changelog name or glues the topic prefix
to something by hand fails here, before a service ends up reading a topic nobody writes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pipeline", "processors", "schemas", "keys")
HOME = "pipeline/topics.py"
"""Where the names are built (from the DESIGN-derived constants it defines)."""
PENDING: dict[str, str] = {
}
"""Modules another change is moving; each must still hold its hit (a stale entry fails)."""

TOPIC = re.compile(r"^(app|privacy|pipeline|sanitized)\.[\w.{}<>-]*\.v\d+$")
PREFIXES = {"prefix", "topic_prefix"}
APP_ID = "privacy-pipeline"


def _docstrings(tree: ast.AST) -> set[int]:
    """Bare string statements (docstrings, attribute docs): prose may name topics."""
    bodies = [b for n in ast.walk(tree) if isinstance(b := getattr(n, "body", None), list)]
    return {
        id(st.value)
        for body in bodies
        for st in body
        if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)
        and isinstance(st.value.value, str)
    }  # fmt: skip


def _is_prefix(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in PREFIXES) or (
        isinstance(node, ast.Attribute) and node.attr in PREFIXES)


def _template(node: ast.JoinedStr) -> str:
    """An f-string with every replacement field as ``{}``."""
    return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _name_like(text: str) -> list[str]:
    found = []
    if TOPIC.match(text):
        found.append(f"topic name {text!r}")
    if "-changelog" in text or "__assignor" in text:
        found.append(f"changelog name {text!r}")
    if text.startswith("{}" + APP_ID):
        found.append(f"worker group {text!r}")
    return found


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Each string literal and f-string template outside prose, with its line."""
    skip = _docstrings(tree)
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, _template(node)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip and id(node) not in parts):
            yield node.lineno, node.value


def _glued(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """A prefix or the app id joined to something: ``prefix + x``, ``f"{s.topic_prefix}x"``.

    An f-string with a space is a message that shows the prefix, not a name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = (node.left, node.right)
            if any(_is_prefix(s) or (isinstance(s, ast.Constant) and s.value == APP_ID)
                   for s in sides):
                yield node.lineno, f"glued {ast.unparse(node)!r}"
        elif (isinstance(node, ast.JoinedStr) and " " not in _template(node)
              and any(isinstance(v, ast.FormattedValue) and _is_prefix(v.value)
                      for v in node.values)):
            yield node.lineno, f"glued {ast.unparse(node)!r}"


def hand_built(source: str) -> list[str]:
    """Every place ``source`` builds a topic, group or changelog name by hand (``line: what``)."""
    tree = ast.parse(source)
    found = [(line, what) for line, text in _strings(tree) for what in _name_like(text)]
    found += list(_glued(tree))
    return [f"{line}: {what}" for line, what in sorted(found)]


def _product_sources() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


def test_the_scan_finds_each_way_of_building_a_name() -> None:
    """The rules catch what they are for (else the scan below passes on anything)."""
    built = {
        'TOPIC = "app.navigation.v1"': "topic name",
        'def f(p):\n    return f"sanitized.{p}.v1"': "topic name",
        'x = f"{app_id}-{table}-changelog"': "changelog name",
        'x = settings.topic_prefix + "privacy.consent.v1"': "glued",
        "x = prefix + topics.DECISIONS": "glued",
        'x = f"{s.topic_prefix}{name}"': "glued",
        'x = f"{self.prefix}privacy-pipeline"': "worker group",
        'x = group + "privacy-pipeline"': "glued",
    }
    for source, what in built.items():
        assert any(what in hit for hit in hand_built(source)), source
    prose = [
        '"""Reads ``privacy.consent.v1`` and the ``<app>-<table>-changelog`` topics."""',
        'def f():\n    """Writes pipeline.decisions.v1."""',
        'x = names.sanitized(p)',
        'msg = f"topics under prefix {s.topic_prefix!r} and more"',
        'app = typer.Typer(name="privacy-pipeline")',
        'client = f"privacy-pipeline-sink-{index}"',
    ]
    for source in prose:
        assert hand_built(source) == [], source


def test_no_product_module_builds_a_name_by_hand() -> None:
    sources = _product_sources()
    assert len(sources) > 100  # the scan must not pass on an empty list (a moved root)
    offenders = {}
    for path in sources:
        rel = path.relative_to(ROOT).as_posix()
        if rel == HOME or rel in PENDING:
            continue
        found = hand_built(path.read_text("utf-8"))
        if found:
            offenders[rel] = found
    assert offenders == {}, "build these names with pipeline.topics.TopicNames"


def test_the_home_and_pending_entries_are_still_real() -> None:
    """TopicNames' own module builds names; each pending module still does (else: drop it)."""
    assert hand_built((ROOT / HOME).read_text("utf-8"))
    for rel, why in PENDING.items():
        path = ROOT / rel
        assert path.is_file() and hand_built(path.read_text("utf-8")), f"{rel} ({why}): remove"
