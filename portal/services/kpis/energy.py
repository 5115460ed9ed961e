"""The energy panel: kWh and cost of charging per depot and day, cost per km."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    Depot,
)
from portal.services.kpis.daily import DayFigures, Days, panel_days
from portal.services.kpis.period import each_day


@dataclass(frozen=True, slots=True)
class DepotEnergyRow:
    depot_id: int
    depot_name: str
    kwh: float
    cost_cents: int
    sessions: int
    km: float

    @property
    def cost_per_km_cents(self) -> float | None:
        return self.cost_cents / self.km if self.km else None


@dataclass(frozen=True, slots=True)
class EnergyPanel:
    depots: list[DepotEnergyRow]
    daily: list[tuple[date, float, int]]  # day, kWh, cost

    @property
    def kwh(self) -> float:
        return sum(r.kwh for r in self.depots)

    @property
    def cost_cents(self) -> int:
        return sum(r.cost_cents for r in self.depots)

    @property
    def km(self) -> float:
        return sum(r.km for r in self.depots)

    @property
    def cost_per_km_cents(self) -> float | None:
        return self.cost_cents / self.km if self.km else None


def energy_panel(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> EnergyPanel:
    """kWh and cost of charging sessions (counted on the local day they started) per depot
    and day; cost per km = that cost over the km the depot's cars drove."""
    days = panel_days(session, start, end, depot_id, "energy", days)
    depots = select(Depot.id, Depot.name).order_by(Depot.name)
    if depot_id:
        depots = depots.where(Depot.id == depot_id)
    per_depot = days.by_depot()
    rows = []
    for dep, name in session.execute(depots):
        cell = per_depot.get(dep, DayFigures())
        rows.append(
            DepotEnergyRow(
                dep,
                name,
                cell.energy_wh / 1000,
                cell.energy_cost_cents,
                cell.sessions,
                float(cell.km),
            )
        )
    per_day = days.by_day()
    daily = []
    for d in each_day(start, end):
        cell = per_day.get(d, DayFigures())
        daily.append((d, cell.energy_wh / 1000, cell.energy_cost_cents))
    return EnergyPanel(depots=rows, daily=daily)
