"""Inline SVG charts for the fleet report: pure functions of numbers to markup, no scripts, no network."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

WASTE = "#d9480f"
RISK = "#f59f00"
GRID = "#e9ecef"
INK = "#495057"


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def money_short(value: float) -> str:
    """$1.2M / $35k / $800: axis labels must stay narrow."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1_000_000:
        return f"{sign}${value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{sign}${value / 1000:.0f}k"
    if value >= 1000:
        return f"{sign}${value / 1000:.1f}k"
    return f"{sign}${value:.0f}"


def _nice_max(value: float) -> float:
    """Round the axis top up to 1, 2 or 5 × 10^n so gridlines land on readable amounts."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, width: int = 760) -> str:
    """Nightly trend: one polyline per series over the labelled nights, with a $ axis and point tooltips."""
    height, left, right, top, bottom = 240, 64, 16, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max([v for s in series for v in s.values] or [0.0]))
    count = len(labels)

    def x(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * i / (count - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>'
    ]
    for i in range(5):
        value = top_value * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="{INK}">'
            f"{money_short(value)}</text>"
        )
    # Label at most ~8 nights so dates never overlap on a 30-night axis.
    stride = max(1, -(-count // 8))
    for i, label in enumerate(labels):
        if i % stride == 0 or i == count - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">{html.escape(label[5:] if len(label) == 10 else label)}</text>'
            )
    for offset, s in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        if count > 1:
            parts.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2.5" points="{points}"/>')
        for i, v in enumerate(s.values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{s.color}">'
                f"<title>{html.escape(labels[i])} {html.escape(s.name)}: ${v:,.0f}/month</title></circle>"
            )
        legend_x = left + offset * 190
        parts.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{s.color}"/>'
            f'<text x="{legend_x + 18}" y="16" font-size="12" fill="{INK}">{html.escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, width: int = 760) -> str:
    """Horizontal stacked bars (e.g. waste + at risk per finding type), largest first as given."""
    row, left, right, top = 24, 230, 90, 26
    height = top + row * max(1, len(labels)) + 8
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top_value = max(totals or [0.0]) or 1.0
    plot_w = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>'
    ]
    for offset, s in enumerate(series):
        legend_x = left + offset * 150
        parts.append(
            f'<rect x="{legend_x}" y="4" width="12" height="12" fill="{s.color}"/>'
            f'<text x="{legend_x + 18}" y="14" font-size="12" fill="{INK}">{html.escape(s.name)}</text>'
        )
    for i, label in enumerate(labels):
        y = top + i * row
        shown = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12" fill="{INK}">'
            f"<title>{html.escape(label)}</title>{html.escape(shown)}</text>"
        )
        x = float(left)
        for s in series:
            w = plot_w * s.values[i] / top_value
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{s.color}">'
                    f"<title>{html.escape(label)} {html.escape(s.name)}: ${s.values[i]:,.0f}/month</title></rect>"
                )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12" fill="{INK}">{money_short(totals[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)
