"""Small inline SVG charts for the auditor report, drawn by hand.

Why not matplotlib: the report needs two simple bar charts; hand-written SVG is byte-for-byte
deterministic without salting hashes or stripping dates, adds no 40 MB dependency to the Airflow image,
and stays readable (each bar carries a ``<title>`` with its exact value for screen readers and hover).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 60, 10, 28, 40
COLORS = ("#2f6fab", "#c0392b", "#d4a017", "#7f8c8d")


def _num(value: Decimal | int) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | int]]],
    *,
    stacked: bool = False,
) -> str:
    """A bar chart as an ``<svg>`` element: one group per label, one bar per series (or stacked)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    if stacked:
        peak = max([sum((float(s[1][i]) for s in series), 0.0) for i in range(len(labels))] or [0.0])
    else:
        peak = max([float(v) for _, values in series for v in values] or [0.0])
    peak = peak or 1.0
    group_w = plot_w / n
    bar_w = group_w * 0.8 / (1 if stacked else max(len(series), 1))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#555"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#555"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" font-size="10" text-anchor="end">'
        f"{escape(_peak_label(peak))}</text>",
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = LEFT + i * group_w + group_w * 0.1
        base = 0.0
        for s_index, (name, values) in enumerate(series):
            value = float(values[i])
            h = plot_h * value / peak
            x = x0 if stacked else x0 + s_index * bar_w
            y = TOP + plot_h - h - (base if stacked else 0.0)
            if stacked:
                base += h
            parts.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(bar_w)}" height="{_fmt(h)}" '
                f'fill="{COLORS[s_index % len(COLORS)]}"><title>{escape(label)} {escape(name)}: '
                f"{escape(_num(values[i]))}</title></rect>"
            )
        if n <= 16 or i % max(1, n // 8) == 0:
            parts.append(
                f'<text x="{_fmt(x0 + group_w * 0.4)}" y="{TOP + plot_h + 14}" font-size="9" '
                f'text-anchor="middle">{escape(label[5:] if len(label) == 10 else label)}</text>'
            )
    for s_index, (name, _) in enumerate(series):
        x = LEFT + s_index * 150
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{COLORS[s_index % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="10">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _peak_label(peak: float) -> str:
    return f"{peak:,.0f}" if peak >= 10 else f"{peak:.2f}"
