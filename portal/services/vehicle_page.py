"""A vehicle's page (staff, tablet), read in one place: its state now, the charge and
speed series over the period, the last week's trips and charging, its battery's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from portal.models import ChargingEpisode, Vehicle, VehicleState, VehicleTrip

from . import fleet_status
from .battery import VehicleBattery, get_vehicle_battery
from .fleet_status import SeriesPoint

HISTORY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class VehiclePage:
    vehicle: Vehicle
    state: VehicleState | None
    range_km: int | None
    period: str  # a key of fleet_status.PERIODS
    since: datetime
    now: datetime
    series: list[SeriesPoint]  # empty for a car without a tracker
    trips: list[VehicleTrip]
    episodes: list[ChargingEpisode]
    battery: VehicleBattery


def get_vehicle_page(session: Session, vehicle: Vehicle, now: datetime, period: str) -> VehiclePage:
    span, _bucket = fleet_status.PERIODS[period]
    state = session.get(VehicleState, vehicle.id)
    imei = vehicle.tracker_imei
    return VehiclePage(
        vehicle=vehicle,
        state=state,
        range_km=fleet_status.estimated_range_km(vehicle, state),
        period=period,
        since=now - span,
        now=now,
        series=fleet_status.vehicle_series(session, imei, now, period) if imei else [],
        trips=fleet_status.list_trips(session, vehicle.id, now - HISTORY),
        episodes=fleet_status.list_charging_episodes(session, vehicle.id, now - HISTORY),
        battery=get_vehicle_battery(session, vehicle.id),
    )
