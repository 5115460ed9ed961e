"""The km per car per day panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from portal.services.kpis.daily import DayFigures, Days, panel_days
from portal.services.kpis.period import each_day


@dataclass(frozen=True, slots=True)
class KmPanel:
    km: float
    car_days: int  # (vehicle, day) pairs with kilometres driven
    daily: list[tuple[date, float]]  # average km per car that drove that day

    @property
    def km_per_car_day(self) -> float:
        return self.km / self.car_days if self.car_days else 0.0


def km_per_car(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> KmPanel:
    days = panel_days(session, start, end, depot_id, "km", days)
    per_day = days.by_day()
    daily = []
    for d in each_day(start, end):
        cell = per_day.get(d, DayFigures())
        daily.append((d, float(cell.km) / cell.cars_driven if cell.cars_driven else 0.0))
    total = days.total()
    return KmPanel(km=float(total.km), car_days=total.cars_driven, daily=daily)
