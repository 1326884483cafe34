"""Inline SVG charts, generated in Python: no script, no stylesheet, nothing fetched.

Every text and attribute value goes through :func:`esc`; numbers are formatted here. The
``<svg>`` elements are meant to be inlined in an HTML5 page (no ``xmlns`` needed there).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

#: Colour-blind-safe palette (Okabe-Ito).
BLUE, ORANGE, GREEN, RED, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"

_LABEL_W = 190
_BAR_W = 420
_ROW_H = 22
_FONT = 'font-family="sans-serif" font-size="12"'


def esc(text: object) -> str:
    """Escape for HTML text and double- or single-quoted attributes."""
    return html.escape(str(text), quote=True)


def _clip(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}><title>{esc(title)}</title>'
        + "".join(body) + "</svg>"
    )


def _empty(title: str) -> str:
    return _svg(_LABEL_W + _BAR_W, 30, title,
                ['<text x="4" y="20" fill="#555">no published rows</text>'])


def hbars(
    title: str, items: Sequence[tuple[str, float]], fmt: Callable[[float], str] = "{:,.0f}".format,
    colour: str = BLUE,
) -> str:
    """Horizontal bar chart: one labelled bar per item, longest = full width."""
    if not items:
        return _empty(title)
    top = max(v for _, v in items) or 1.0
    body = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * _ROW_H
        w = max(1.0, _BAR_W * value / top) if value > 0 else 0.0
        body.append(
            f'<g><title>{esc(label)}: {esc(fmt(value))}</title>'
            f'<text x="{_LABEL_W - 6}" y="{y + 14}" text-anchor="end">{esc(_clip(label))}</text>'
            f'<rect x="{_LABEL_W}" y="{y + 2}" width="{w:.1f}" height="{_ROW_H - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{_LABEL_W + w + 4:.1f}" y="{y + 14}">{esc(fmt(value))}</text></g>'
        )
    return _svg(_LABEL_W + _BAR_W + 90, 12 + len(items) * _ROW_H, title, body)


def columns(title: str, items: Sequence[tuple[str, float]], colour: str = BLUE) -> str:
    """Vertical bars over time (one per label, e.g. per day), with a few x labels."""
    if not items:
        return _empty(title)
    width, height, left, bottom = 640, 220, 56, 40
    plot_w, plot_h = width - left - 10, height - bottom - 14
    top = max(v for _, v in items) or 1.0
    step = plot_w / len(items)
    every = max(1, len(items) // 8)
    body = [f'<line x1="{left}" y1="{14 + plot_h}" x2="{width - 10}" y2="{14 + plot_h}" '
            'stroke="#333"/>',
            f'<text x="{left - 6}" y="20" text-anchor="end">{esc(f"{top:,.0f}")}</text>',
            f'<text x="{left - 6}" y="{14 + plot_h}" text-anchor="end">0</text>']
    for i, (label, value) in enumerate(items):
        h = plot_h * value / top
        x = left + i * step
        body.append(
            f'<g><title>{esc(label)}: {esc(f"{value:,.0f}")}</title>'
            f'<rect x="{x + step * 0.1:.1f}" y="{14 + plot_h - h:.1f}" '
            f'width="{step * 0.8:.1f}" height="{h:.1f}" fill="{colour}"/></g>'
        )
        if i % every == 0:
            body.append(f'<text x="{x + step / 2:.1f}" y="{14 + plot_h + 18}" '
                        f'text-anchor="middle">{esc(label)}</text>')
    return _svg(width, height, title, body)


def stacked(
    title: str, items: Sequence[tuple[str, Sequence[float]]], legend: Sequence[tuple[str, str]],
) -> str:
    """100 % stacked bars: one row per item, parts coloured as ``legend`` (name, colour)."""
    if not items:
        return _empty(title)
    body = []
    for i, (label, parts) in enumerate(items):
        y = 6 + i * _ROW_H
        total = sum(parts) or 1.0
        x = float(_LABEL_W)
        body.append(f'<text x="{_LABEL_W - 6}" y="{y + 14}" text-anchor="end">'
                    f'{esc(_clip(label))}</text>')
        for value, (name, colour) in zip(parts, legend, strict=True):
            w = _BAR_W * value / total
            body.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{_ROW_H - 6}" '
                        f'fill="{colour}"><title>{esc(label)}, {esc(name)}: '
                        f'{esc(f"{value:,.0f}")} ({esc(f"{100 * value / total:.1f}")} %)'
                        '</title></rect>')
            x += w
    y = 12 + len(items) * _ROW_H
    for j, (name, colour) in enumerate(legend):
        lx = _LABEL_W + j * 120
        body.append(f'<rect x="{lx}" y="{y}" width="12" height="12" fill="{colour}"/>'
                    f'<text x="{lx + 16}" y="{y + 11}">{esc(name)}</text>')
    return _svg(_LABEL_W + _BAR_W + 20, y + 22, title, body)
