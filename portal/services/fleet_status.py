"""What the telemetry screens read: a driver's car now, the fleet board, a vehicle's
history (charts, trips, charging). No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.models import (
    AlertKind,
    ChargingEpisode,
    Contract,
    ContractStatus,
    Depot,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleState,
    VehicleTrip,
)
from portal.timeutil import local_today

from .telemetry_rollups import km_on_day


@dataclass(frozen=True, slots=True)
class CarStatus:
    """A driver's car as its tracker last reported it."""

    vehicle: Vehicle
    state: VehicleState | None
    range_km: int | None
    today_km: float | None

    @property
    def soc_pct(self) -> int | None:
        return self.state.soc_pct if self.state else None


def estimated_range_km(vehicle: Vehicle, state: VehicleState | None) -> int | None:
    """The tracker's range-on-battery when the CAN adapter sends it; else the state of
    charge times the car's rated range."""
    if state is None:
        return None
    if state.range_m is not None:
        return round(state.range_m / 1000)
    if state.soc_pct is not None:
        return round(vehicle.range_km * state.soc_pct / 100)
    return None


def get_driver_car_status(session: Session, driver_id: int) -> CarStatus | None:
    """The car of the driver's active contract, or None without one."""
    vehicle = session.scalar(
        select(Vehicle)
        .join(Contract, Contract.vehicle_id == Vehicle.id)
        .where(Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE)
    )
    if vehicle is None:
        return None
    state = session.get(VehicleState, vehicle.id)
    today_km = None
    if vehicle.tracker_imei:
        span = km_on_day(session, vehicle.tracker_imei, local_today())
        today_km = (span[1] - span[0]) / 1000 if span else 0.0
    return CarStatus(vehicle, state, estimated_range_km(vehicle, state), today_km)


# --- The fleet board ------------------------------------------------------------------------

BOARD_SORTS = ("plate", "soc", "last_seen")
BOARD_FLAGS = ("silent", "low_soc", "charging", "driving")


@dataclass(frozen=True, slots=True)
class BoardRow:
    vehicle: Vehicle
    state: VehicleState | None
    alerts: frozenset[AlertKind]

    @property
    def silent(self) -> bool:
        return AlertKind.SILENT in self.alerts

    @property
    def low_soc(self) -> bool:
        return AlertKind.LOW_SOC in self.alerts

    @property
    def activity(self) -> str:
        """What the car is doing: charging, driving, parked, or unknown (never reported)."""
        if self.state is None:
            return "unknown"
        if self.state.charging:
            return "charging"
        if self.state.ignition or self.state.movement:
            return "driving"
        return "parked"


def list_board(
    session: Session,
    *,
    depot_id: int | None = None,
    flag: str | None = None,
    sort: str = "plate",
    descending: bool = False,
) -> list[BoardRow]:
    """Every vehicle with its latest state and open alerts, filtered and sorted."""
    query = (
        select(Vehicle, VehicleState)
        .outerjoin(VehicleState, VehicleState.vehicle_id == Vehicle.id)
        .options(joinedload(Vehicle.depot))
    )
    if depot_id:
        query = query.where(Vehicle.depot_id == depot_id)
    alerts: dict[int, set[AlertKind]] = {}
    for vehicle_id, kind in session.execute(
        select(VehicleAlert.vehicle_id, VehicleAlert.kind).where(VehicleAlert.closed_at.is_(None))
    ):
        alerts.setdefault(vehicle_id, set()).add(kind)
    rows = [
        BoardRow(vehicle, state, frozenset(alerts.get(vehicle.id, ())))
        for vehicle, state in session.execute(query)
    ]
    if flag == "silent":
        rows = [r for r in rows if r.silent]
    elif flag == "low_soc":
        rows = [r for r in rows if r.low_soc]
    elif flag in ("charging", "driving"):
        rows = [r for r in rows if r.activity == flag]

    def key(row: BoardRow) -> Any:
        if sort == "soc":
            soc = row.state.soc_pct if row.state and row.state.soc_pct is not None else -1
            return (soc, row.vehicle.plate)
        if sort == "last_seen":
            seen = row.state.device_time.timestamp() if row.state else 0.0
            return (seen, row.vehicle.plate)
        return row.vehicle.plate

    return sorted(rows, key=key, reverse=descending)


# --- A vehicle's history --------------------------------------------------------------------

PERIODS = {"24h": (timedelta(hours=24), 300), "7d": (timedelta(days=7), 1800)}
"""Chart periods: the span and the bucket (seconds) readings are averaged over."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    at: datetime
    soc_pct: float | None
    speed: float


def vehicle_series(session: Session, imei: str, now: datetime, period: str) -> list[SeriesPoint]:
    """State of charge and speed averaged per bucket over the period (PostgreSQL)."""
    span, bucket = PERIODS[period]
    since = now - span
    r = TelemetryReading
    bucket_start = func.to_timestamp(
        func.floor(func.extract("epoch", r.device_time) / bucket) * bucket
    )
    rows = session.execute(
        select(bucket_start.label("at"), func.avg(r.soc_pct), func.avg(r.speed))
        .where(r.imei == imei, r.device_time >= since, r.device_time <= now)
        .group_by("at")
        .order_by("at")
    )
    return [
        SeriesPoint(at, float(soc) if soc is not None else None, float(speed or 0))
        for at, soc, speed in rows
    ]


def list_trips(session: Session, vehicle_id: int, since: datetime) -> list[VehicleTrip]:
    return list(
        session.scalars(
            select(VehicleTrip)
            .where(VehicleTrip.vehicle_id == vehicle_id, VehicleTrip.started_at >= since)
            .order_by(VehicleTrip.started_at.desc())
            .limit(50)
        )
    )


def list_charging_episodes(
    session: Session, vehicle_id: int, since: datetime
) -> list[ChargingEpisode]:
    return list(
        session.scalars(
            select(ChargingEpisode)
            .options(joinedload(ChargingEpisode.depot))
            .where(ChargingEpisode.vehicle_id == vehicle_id, ChargingEpisode.started_at >= since)
            .order_by(ChargingEpisode.started_at.desc())
            .limit(50)
        )
    )


def list_depots_on_map(session: Session) -> list[Depot]:
    return list(
        session.scalars(select(Depot).where(Depot.latitude.is_not(None)).order_by(Depot.name))
    )
