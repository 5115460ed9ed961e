"""Energy per depot per day as a stacked bar chart (kWh, a segment per depot)."""

from __future__ import annotations

from portal.i18n import local_date, number
from portal.services.charging.board import DepotEnergy
from portal.web.charts import StackedChart, stacked


def energy_chart(report: list[DepotEnergy]) -> StackedChart:
    days = [d.day for d in report[0].days] if report else []
    series = [
        (
            r.depot.name,
            [d.kwh for d in r.days],
            [f"{r.depot.name}: {number(d.kwh, 1)} kWh" for d in r.days],
        )
        for r in report
    ]
    return stacked(
        [local_date(day, "d/M") for day in days],
        series,
        axis_text=lambda kwh: number(kwh),
        floor=40,
    )
