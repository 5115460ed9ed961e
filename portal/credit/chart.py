"""A server-side SVG of an applicant's daily earnings, stacked by platform."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal.models import EarningsDay

PLATFORM_COLOURS = {"uber": "#111827", "didi": "#e8710a", "indrive": "#3f8f1f", "cabify": "#6c3fc4"}
WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 34


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, pesos)
    x_ticks: list[tuple[float, date]] = field(default_factory=list)  # (x, Monday)
    platforms: list[tuple[str, str]] = field(default_factory=list)  # (platform, colour)
    weeks: list[tuple[date, int, int]] = field(default_factory=list)  # Monday, cents, trips
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    first: date | None = None
    last: date | None = None


def _nice_max(value: float) -> int:
    for step in (500, 1000, 2000, 2500, 5000, 10000):
        if value <= step * 4:
            return step * 4 if value > step * 3 else max(step, int(-(-value // step) * step))
    return int(-(-value // 10000) * 10000)


def earnings_chart(days: list[EarningsDay], span_days: int = 60) -> Chart:
    """Daily amounts by platform over the last `span_days` days of the data."""
    chart = Chart()
    if not days:
        return chart
    last = max(d.day for d in days)
    first = last - timedelta(days=span_days - 1)
    chart.first, chart.last = first, last
    totals: dict[date, int] = defaultdict(int)
    per_day: dict[date, list[EarningsDay]] = defaultdict(list)
    for d in days:
        if d.day >= first:
            per_day[d.day].append(d)
            totals[d.day] += d.amount_cents
    top = _nice_max(max(totals.values(), default=0) / 100 or 1)
    plot_h = chart.plot_bottom - chart.plot_top
    slot = (chart.plot_right - chart.plot_left) / span_days
    used: set[str] = set()
    for i in range(span_days):
        day = first + timedelta(days=i)
        x = chart.plot_left + i * slot
        base = float(chart.plot_bottom)
        for row in sorted(per_day.get(day, []), key=lambda r: r.platform.value):
            h = row.amount_cents / 100 / top * plot_h
            if h <= 0:
                continue
            base -= h
            used.add(row.platform.value)
            chart.bars.append(
                Bar(
                    round(x + 1, 1),
                    round(base, 1),
                    round(max(slot - 2, 1), 1),
                    round(h, 1),
                    PLATFORM_COLOURS[row.platform.value],
                    f"{day.isoformat()} {row.platform.value}: ${row.amount_cents / 100:,.2f}"
                    f" · {row.trips}",
                )
            )
        if day.weekday() == 0:
            chart.x_ticks.append((round(x, 1), day))
    chart.y_ticks = [
        (round(chart.plot_bottom - plot_h * k / 4, 1), int(top * k / 4)) for k in range(5)
    ]
    chart.platforms = [(p, PLATFORM_COLOURS[p]) for p in sorted(used)]
    return chart
