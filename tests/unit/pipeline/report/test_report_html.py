"""The HTML page: self-contained (nothing to fetch), escaped, charts well-formed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from pipeline.report.html import render_html, write_html
from pipeline.report.queries import open_analytics, summarize
from tests.unit.pipeline.report.conftest import HOSTILE, build_analytics


def _page(path: Path) -> str:
    conn = open_analytics(path)
    summary = summarize(conn, path)
    conn.close()
    return render_html(summary)


def _svg(chart: str) -> ET.Element:
    return ET.fromstring(chart)  # noqa: S314 - parses the page this test just generated


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_page_loads_nothing_from_anywhere(analytics: Path) -> None:
    page = _page(analytics)
    parser = _Collector()
    parser.feed(page)
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}|url\(|@import", page, re.I)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parser.tags)
    assert not [a for a in parser.attrs if a[0] in ("src", "href") or a[0].startswith("on")]
    assert "default-src 'none'" in " ".join(v or "" for _, v in parser.attrs)


def test_strings_from_the_database_are_escaped(analytics: Path) -> None:
    page = _page(analytics)
    assert "<script>" not in page and HOSTILE not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;[bold]&amp;amp;" in page
    parser = _Collector()
    parser.feed(page)
    assert HOSTILE in "".join(parser.text)  # shown as text, to the character


def test_every_chart_is_well_formed_svg(analytics: Path) -> None:
    page = _page(analytics)
    charts = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(charts) == 5  # screens, days, consent, kept share, dropped
    for chart in charts:
        root = _svg(chart)
        assert root.find("title") is not None
        assert root.findall(".//rect"), chart[:200]
    # The longest bar of "Views per screen" is "home" at full width.
    screens = _svg(charts[0])
    widths = [float(r.get("width", "0")) for r in screens.iter("rect")]
    assert max(widths) == widths[0] == 420.0


def test_empty_database_still_renders(tmp_path: Path) -> None:
    page = _page(build_analytics(tmp_path / "analytics.duckdb", rows=False))
    assert page.count("no published rows") >= 5
    for chart in re.findall(r"<svg\b.*?</svg>", page, re.S):
        _svg(chart)


def test_write_html_is_complete_file(analytics: Path, tmp_path: Path) -> None:
    conn = open_analytics(analytics)
    summary = summarize(conn, analytics)
    conn.close()
    out = tmp_path / "report.html"
    write_html(summary, out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
