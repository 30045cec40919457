"""Chart geometry for the templates: numbers in, rectangles and points out, drawn as inline SVG by
templates/_charts.html (no script, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, MARGIN = 640, 220, 30


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    line: str  # SVG polyline points, "" for a bar chart
    maximum: int
    width: int = WIDTH
    height: int = HEIGHT
    margin: int = MARGIN


def bar_chart(points: list[tuple[str, int]]) -> Chart:
    """One bar per (label, value), scaled to the largest value."""
    maximum = max((value for _, value in points), default=0) or 1
    inner_width, inner_height = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    step = inner_width / max(len(points), 1)
    bars = [
        Bar(
            x=MARGIN + index * step + step * 0.1,
            y=MARGIN + inner_height * (1 - value / maximum),
            width=step * 0.8,
            height=inner_height * value / maximum,
            label=label,
            value=value,
        )
        for index, (label, value) in enumerate(points)
    ]
    return Chart(bars, "", maximum)


def line_chart(points: list[tuple[str, int]]) -> Chart:
    """A line through (label, value) points in order, with a dot (a zero-width bar) at each."""
    chart = bar_chart(points)
    line = " ".join(f"{bar.x + bar.width / 2:.1f},{bar.y:.1f}" for bar in chart.bars)
    return Chart(chart.bars, line, chart.maximum)
