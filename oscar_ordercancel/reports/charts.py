"""Bar charts as inline SVG, drawn on the server: no script, no external request.

Each chart is one ``<svg role="img">`` named by ``aria-label`` and its ``<title>``, with a
``<desc>`` that says what it shows and where its figures are as a table (the page puts
that table beside it). Each bar carries a ``<title>`` (a tooltip for mouse users).
Colours come from the Okabe-Ito palette, told apart by people with colour-blindness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: Series colours (Okabe-Ito, without its yellow, which is too light on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#6C757D",
           "#332288", "#882255", "#117733")
#: Text and lines: dark enough on white for WCAG AA (#495057 is 8:1).
INK, GRID = "#495057", "#dee2e6"
#: The default size in SVG units; the chart scales to its container's width, so a size
#: close to the container's in pixels keeps the 12-unit labels readable.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 32
#: Room under the bars for one label, in SVG units (the others are left out, not squeezed).
X_LABEL_ROOM = 56


def colour(index: int) -> str:
    """The colour of the ``index``-th series."""
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Bar:
    """One bar (or stack): its short label under the axis, its tooltip, and its parts' values."""

    label: str
    tooltip: str
    values: Sequence[float]


def nice_ceiling(value: float, *, whole: bool = False) -> tuple[float, float]:
    """A round top for the axis at or above ``value`` and its tick step (1, 2 or 5 × 10ⁿ;
    at least 1 when the values are ``whole`` numbers, such as counts)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(step, 1)
    return step * math.ceil(value / step - 1e-9), step


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def bar_chart(bars: Sequence[Bar], *, title: str, description: str, chart_id: str,
              colours: Sequence[str] = PALETTE, unit: str = "", whole: bool = False,
              width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    """An SVG chart of ``bars``, each a stack of its ``values`` (series ``i`` in ``colours[i]``)."""
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    top, step = nice_ceiling(max((sum(v or 0 for v in bar.values) for bar in bars), default=0), whole=whole)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" aria-describedby="{escape(chart_id)}-desc" '
        f'focusable="false" class="ordercancel-chart" id="{escape(chart_id)}" '
        f'font-family="inherit" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    ticks = int(round(top / step))
    for i in range(ticks + 1):
        value = step * i
        y = TOP + plot_h - plot_h * value / top
        parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID if i else INK}" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
                     f"{escape(_number(value))}{escape(unit)}</text>")
    if bars:
        slot = plot_w / len(bars)
        bar_w = max(slot * 0.7, 0.5)
        every = max(1, math.ceil(X_LABEL_ROOM / slot))
        for index, bar in enumerate(bars):
            x = LEFT + slot * index + (slot - bar_w) / 2
            base = TOP + plot_h
            parts.append("<g>")
            parts.append(f"<title>{escape(bar.tooltip)}</title>")
            for series, value in enumerate(bar.values):
                if not value:
                    continue
                bar_h = plot_h * value / top
                base -= bar_h
                parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                             f'height="{bar_h:.1f}" fill="{colours[series % len(colours)]}"/>')
            parts.append("</g>")
            if index % every == 0:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - BOTTOM + 18}" '
                             f'text-anchor="middle" fill="{INK}">{escape(bar.label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
