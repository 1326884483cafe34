"""The HTML pieces both self-contained pages are built from (report and record of processing).

One page shell (a Content-Security-Policy meta that forbids every fetch, inline CSS, no
script), the tables, and the atomic write, so both pages escape and write the same way.
Every string given here is escaped (:func:`pipeline.report.charts.esc`) unless it is
markup this package built (``body``, ``css``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pipeline.report.charts import esc
from pipeline.report.exceptions import ReportError

__all__ = ["esc", "fields_table", "page", "table", "write_page"]

_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def page(title: str, body: str, *, csp: str, css: str, viewport: bool = False) -> str:
    """A whole HTML document around ``body`` (markup), ending with a newline."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        f"{_VIEWPORT if viewport else ''}"
        f"<title>{esc(title)}</title><style>{css}</style></head><body>{body}</body></html>\n"
    )


def table(head: Sequence[str], rows: Sequence[Sequence[object]], text: int = 1) -> str:
    """A table with a header row; the first ``text`` columns are text, the others numbers."""
    if not rows:
        return '<p class="note">no published rows</p>'
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = []
    for row in rows:
        cells = [
            f"<td>{esc(v)}</td>" if i < text else f'<td class="n">{esc(v)}</td>'
            for i, v in enumerate(row)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def fields_table(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of (label, value) lines, the label as the row's header cell."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def write_page(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` atomically: a reader never sees half a page.

    Raises:
        ReportError: the file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(
            f"cannot write {path}: {exc.strerror}; choose another --html path"
        ) from None
