"""Energy per depot per day (desktop): a server-side SVG chart and the numbers in a table.

Registered on the manager blueprint (imported at the end of `views.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services.charging.board import DepotEnergy, energy_by_depot_day
from portal.timeutil import local_today

from .views import bp

DAYS = 14


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    swatch: int
    label: str  # for the <title> tooltip: depot and kWh


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: float


@dataclass(frozen=True, slots=True)
class DayLabel:
    x: float
    day: date


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    days: list[DayLabel]


def _nice_max(value: float) -> float:
    """A round top for the axis with four round ticks (at least 40 kWh)."""
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if value <= step * 4:
            return float(step * 4)
    return float(-(-value // 10000) * 10000)


def stacked_chart(report: list[DepotEnergy], width: int = 960, height: int = 300) -> Chart:
    """kWh per day, one stacked bar per day with a segment per depot."""
    left, right, top, bottom_margin = 56, 8, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom_margin
    days = [d.day for d in report[0].days] if report else []
    totals = [sum(r.days[i].kwh for r in report) for i in range(len(days))]
    top_value = _nice_max(max(totals, default=0))
    slot = plot_w / max(1, len(days))
    bar_w = slot * 0.62
    bottom = top + plot_h
    bars, labels = [], []
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = bottom
        for n, depot in enumerate(report):
            kwh = depot.days[i].kwh
            if kwh <= 0:
                continue
            h = plot_h * kwh / top_value
            y -= h
            bars.append(Bar(x, y, bar_w, h, n % 5, f"{depot.depot.name}: {kwh:,.1f} kWh"))
        labels.append(DayLabel(left + i * slot + slot / 2, day))
    ticks = [Tick(bottom - plot_h * k / 4, top_value * k / 4) for k in range(5)]
    return Chart(width, height, left, bottom, bars, ticks, labels)


@bp.get("/energia")
def energy() -> Response:
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    report = energy_by_depot_day(Session(), today=local_today(zone), days=DAYS, zone=zone)
    return render(
        "manager/energy.html",
        report=report,
        chart=stacked_chart(report),
        days=DAYS,
        total_kwh=sum(r.kwh for r in report),
        total_cost=sum(r.cost_cents for r in report),
        total_sessions=sum(r.sessions for r in report),
    )
