"""Chart geometry for the report page, drawn as SVG by the templates.

Hand-rolled on purpose: three bar charts need no library, and the server sends a
finished picture (no script, readable without JavaScript). Charts use a ``viewBox``
and scale to the page's width, so they stay readable on a 390 px phone; numbers are
written on the bars, not only in tooltips.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "bar_chart"]

WIDTH = 360.0
HEIGHT = 180.0
AXIS = 22.0  # room for labels under the bars
TOP = 16.0  # room for values over the bars
MAX_BAR = 56.0  # two bars should still look like bars, not like walls


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    show_label: bool


@dataclass(frozen=True)
class BarChart:
    """A vertical bar chart in a ``WIDTH`` x ``HEIGHT`` view box."""

    title: str
    bars: tuple[Bar, ...]
    width: float = WIDTH
    height: float = HEIGHT
    baseline: float = HEIGHT - AXIS


def bar_chart(
    title: str, labels: list[str], values: list[int], *, label_every: int = 1
) -> BarChart:
    """Bars scaled to the largest value; every ``label_every``-th label is written (24
    hour labels do not fit under bars 15 px wide)."""
    count = max(1, len(values))
    slot = WIDTH / count
    gap = min(6.0, slot * 0.2)
    tallest = max(values, default=0) or 1
    usable = HEIGHT - AXIS - TOP
    width = min(slot - gap, MAX_BAR)
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = usable * value / tallest
        bars.append(
            Bar(
                x=round(index * slot + (slot - width) / 2, 2),
                y=round(HEIGHT - AXIS - height, 2),
                width=round(width, 2),
                height=round(height, 2),
                label=label,
                value=value,
                show_label=index % label_every == 0,
            )
        )
    return BarChart(title=title, bars=tuple(bars))
