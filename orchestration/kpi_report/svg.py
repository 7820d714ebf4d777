"""Small SVG charts for the KPI report, written as text so the report needs no
JavaScript, no network and no plotting package.

Every chart takes category labels along x and one or more series of numbers (None
for a missing value), and returns an ``<svg>`` element to put into the HTML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#1d3557", "#e76f51", "#2a9d8f", "#e9c46a", "#8d5fd3",
    "#f4a261", "#457b9d", "#d62828", "#6a994e", "#bc6c25",
)  # fmt: skip
WIDTH = 760
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 56
MAX_X_LABELS = 14


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """Round the axis maximum up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _frame(labels: Sequence[str], top: float, title: str, plot_top: int) -> list[str]:
    """Return the opening tag, y grid with tick labels and x labels of a chart."""
    plot_height = HEIGHT - plot_top - MARGIN_BOTTOM
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="11">'
    ]
    for tick in range(5):
        value = top * tick / 4
        y = plot_top + plot_height * (1 - tick / 4)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#5d6b7e">{_number(value)}</text>'
        )
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    slot = plot_width / max(len(labels), 1)
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = MARGIN_LEFT + slot * (index + 0.5)
        y = HEIGHT - MARGIN_BOTTOM + 14
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" fill="#5d6b7e" '
            f'transform="rotate(-35 {x:.1f} {y})">{escape(label)}</text>'
        )
    return parts


def _legend(series: Sequence[Series]) -> tuple[list[str], int]:
    """Return the legend, wrapped to the chart width, and the y where the plot starts."""
    if len(series) < 2:
        return [], MARGIN_TOP
    parts = []
    x, y = MARGIN_LEFT, 2
    for index, item in enumerate(series):
        item_width = 24 + 7 * len(item.name)
        if x + item_width > WIDTH and x > MARGIN_LEFT:
            x, y = MARGIN_LEFT, y + 16
        color = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="{y + 9}">{escape(item.name)}</text>'
        )
        x += item_width
    return parts, y + 16 + MARGIN_TOP


def bar_chart(
    labels: Sequence[str], series: Sequence[Series], title: str, stacked: bool = False
) -> str:
    """Draw vertical bars per label, grouped side by side or stacked."""
    columns = zip(*(item.values for item in series), strict=True)
    combine = sum if stacked else max
    totals = [combine(value or 0 for value in column) for column in columns]
    top = _nice_max(max(totals, default=0))
    legend, plot_top = _legend(series)
    parts = _frame(labels, top, title, plot_top) + legend
    plot_height = HEIGHT - plot_top - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(labels), 1)
    bar_width = slot * 0.8 / (1 if stacked else len(series))
    for column, label in enumerate(labels):
        base = 0.0
        for index, item in enumerate(series):
            value = item.values[column] or 0
            height = plot_height * value / top
            x = MARGIN_LEFT + slot * column + slot * 0.1
            if not stacked:
                x += bar_width * index
            y = plot_top + plot_height - height - (plot_height * base / top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
                f'height="{height:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                f"<title>{escape(label)} {escape(item.name)}: {_number(value)}</title>"
                "</rect>"
            )
            if stacked:
                base += value
    return "".join([*parts, "</svg>"])


def line_chart(labels: Sequence[str], series: Sequence[Series], title: str) -> str:
    """Draw one line per series; a None value breaks the line."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0))
    legend, plot_top = _legend(series)
    parts = _frame(labels, top, title, plot_top) + legend
    plot_height = HEIGHT - plot_top - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(labels), 1)
    for index, item in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        points = []
        for column, value in enumerate(item.values):
            if value is None:
                continue
            x = MARGIN_LEFT + slot * (column + 0.5)
            y = plot_top + plot_height * (1 - value / top)
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{escape(labels[column])} {escape(item.name)}: "
                f"{_number(value)}</title></circle>"
            )
        if len(points) > 1:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" '
                f'stroke="{color}" stroke-width="2"/>'
            )
    return "".join([*parts, "</svg>"])


def heatmap(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    title: str,
) -> str:
    """Draw cells shaded by a share from 0 to 1, with the percentage in each."""
    cell_width, cell_height = 34, 20
    left, top = 80, 34
    width = left + cell_width * len(column_labels) + 8
    height = top + cell_height * len(row_labels) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="10">'
    ]
    for column, label in enumerate(column_labels):
        x = left + cell_width * (column + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" '
            f'fill="#5d6b7e">{escape(label)}</text>'
        )
    for row, label in enumerate(row_labels):
        y = top + cell_height * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" '
            f'fill="#5d6b7e">{escape(label)}</text>'
        )
        for column, value in enumerate(values[row]):
            if value is None:
                continue
            x = left + cell_width * column
            ink = "#fff" if value > 0.5 else "#1d2430"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_width - 1}" '
                f'height="{cell_height - 1}" fill="#1d3557" '
                f'fill-opacity="{0.08 + 0.92 * value:.3f}"><title>{escape(label)}, '
                f"month {escape(column_labels[column])}: {value:.1%}</title></rect>"
                f'<text x="{x + cell_width / 2:.1f}" y="{y + 14}" text-anchor="middle" '
                f'fill="{ink}">{value * 100:.0f}</text>'
            )
    return "".join([*parts, "</svg>"])
