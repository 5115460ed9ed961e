"""The fleet utilization panel: vehicles by status now, and cars on the road."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    RETIRED_STATUSES,
    Vehicle,
    VehicleDailyKm,
    VehicleStatus,
)
from portal.services.kpis.daily import Days, panel_days
from portal.services.kpis.period import each_day


@dataclass(frozen=True, slots=True)
class FleetPanel:
    vehicles: int
    on_road: int  # drove at least once in the period
    assigned: int  # leased now (an active contract)
    in_repair: int
    idle: int  # available at a depot
    out_of_service: int  # out of service or retired
    daily_on_road: list[tuple[date, int]]

    @property
    def utilization(self) -> float:
        """Cars on the road over cars not retired."""
        return self.on_road / self.vehicles if self.vehicles else 0.0


def fleet_utilization(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> FleetPanel:
    days = panel_days(session, start, end, depot_id, "fleet", days)
    counts = select(Vehicle.status, func.count()).group_by(Vehicle.status)
    if depot_id:
        counts = counts.where(Vehicle.depot_id == depot_id)
    by_status = {VehicleStatus(s): int(n) for s, n in session.execute(counts)}
    # Cars that drove at least once: a probe of each car's (vehicle, day) key, which stops
    # at its first day with km, instead of counting distinct cars over every row.
    drove = (
        select(VehicleDailyKm.vehicle_id)
        .where(
            VehicleDailyKm.vehicle_id == Vehicle.id,
            VehicleDailyKm.day.between(start, end),
            VehicleDailyKm.km > 0,
        )
        .exists()
    )
    on_road = select(func.count()).select_from(Vehicle).where(drove)
    if depot_id:
        on_road = on_road.where(Vehicle.depot_id == depot_id)
    per_day = days.by_day()
    retired = sum(by_status.get(s, 0) for s in RETIRED_STATUSES)
    return FleetPanel(
        vehicles=sum(by_status.values()) - retired,
        on_road=int(session.scalar(on_road) or 0),
        assigned=by_status.get(VehicleStatus.LEASED, 0),
        in_repair=by_status.get(VehicleStatus.IN_REPAIR, 0),
        idle=by_status.get(VehicleStatus.AVAILABLE, 0),
        out_of_service=by_status.get(VehicleStatus.OUT_OF_SERVICE, 0),
        daily_on_road=[
            (d, per_day[d].cars_driven if d in per_day else 0) for d in each_day(start, end)
        ],
    )
