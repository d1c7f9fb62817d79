"""Server-rendered inline SVG charts: no script, no CDN, no build step.

Labels are escaped; the SVG is returned as ``Markup`` so templates embed it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = ("#1f5f99", "#b3261e", "#8a9aa9", "#1e7b34", "#8a5a00", "#6a3d9a", "#0f7c80", "#c05f00")
ROW_H = 22
LABEL_W = 210
BAR_W = 420
VALUE_W = 110


def _fmt(value: float | Decimal) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _clip(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _open_svg(title: str, width: int, height: int) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')


def bar_chart(items: Sequence[tuple[str, float | int | Decimal]], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return Markup("")
    top = max((float(v) for _, v in items), default=0.0) or 1.0
    height = ROW_H * len(items) + 8
    width = LABEL_W + BAR_W + VALUE_W
    parts = [_open_svg(title, width, height)]
    for i, (label, value) in enumerate(items):
        y = 4 + i * ROW_H
        w = max(0.0, float(value)) / top * BAR_W
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(_clip(str(label)))}</text>'
            f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" fill="{PALETTE[0]}">'
            f'<title>{escape(str(label))}: {escape(_fmt(value))}{escape(unit)}</title></rect>'
            f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 15}" font-size="12">{escape(_fmt(value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar_chart(rows: Sequence[tuple[str, Sequence[float | int]]], series: Sequence[str], *,
                      title: str) -> Markup:
    """Horizontal stacked bars: one bar per row label, one segment per series, with a legend."""
    if not rows:
        return Markup("")
    top = max((sum(float(v) for v in values) for _, values in rows), default=0.0) or 1.0
    legend_h = 22
    height = legend_h + ROW_H * len(rows) + 8
    width = LABEL_W + BAR_W + VALUE_W
    parts = [_open_svg(title, width, height)]
    x = LABEL_W
    for j, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text x="{x + 16}" y="14" font-size="12">{escape(name)}</text>')
        x += 22 + 8 * len(name)
    for i, (label, values) in enumerate(rows):
        y = legend_h + 4 + i * ROW_H
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                     f'{escape(_clip(str(label)))}</text>')
        x0 = float(LABEL_W)
        for j, value in enumerate(values):
            w = max(0.0, float(value)) / top * BAR_W
            if w > 0:
                parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
                             f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(str(label))} · '
                             f'{escape(series[j])}: {escape(_fmt(value))}</title></rect>')
            x0 += w
        parts.append(f'<text x="{x0 + 4:.1f}" y="{y + 15}" font-size="12">'
                     f'{escape(_fmt(sum(values)))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
