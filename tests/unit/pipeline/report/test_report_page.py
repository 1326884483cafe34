"""The shared HTML pieces: every given string escaped, the shell forbids every fetch."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.report.exceptions import ReportError
from pipeline.report.page import fields_table, page, table, write_page

HOSTILE = '<script>alert("x")</script>&\''


def test_tables_escape_every_cell_and_mark_number_columns() -> None:
    grid = table([HOSTILE, "n"], [(HOSTILE, 3)])
    assert "<script>" not in grid and "&lt;script&gt;" in grid
    assert '<td class="n">3</td>' in grid
    assert table(["a"], []) == '<p class="note">no published rows</p>'
    lines = fields_table([(HOSTILE, HOSTILE)])
    assert lines.count("&lt;script&gt;") == 2 and "<script>" not in lines


def test_the_page_escapes_its_title_and_policy_and_keeps_the_body() -> None:
    doc = page(HOSTILE, "<p>kept</p>", csp="default-src 'none'", css="p{}")
    assert "<title>&lt;script&gt;" in doc and "<p>kept</p>" in doc
    assert 'content="default-src &#x27;none&#x27;"' in doc
    assert "viewport" not in doc
    assert "viewport" in page("t", "", csp="", css="", viewport=True)
    assert doc.endswith("</body></html>\n")


def test_write_page_is_atomic_and_a_bad_path_is_a_report_error(tmp_path: Path) -> None:
    target = tmp_path / "p.html"
    write_page("<p>x</p>", target)
    assert target.read_text(encoding="utf-8") == "<p>x</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["p.html"]
    with pytest.raises(ReportError, match="choose another --html path"):
        write_page("x", tmp_path / "missing" / "p.html")
    assert not (tmp_path / "missing").exists()
