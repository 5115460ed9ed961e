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
    ChargingSession,
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

from .charging.driver import active_session
from .places import NearbyPlace, Place, depot_places, describe_position, near_a_depot
from .telemetry_rollups import km_on_day


@dataclass(frozen=True, slots=True)
class ChargeNow:
    """Whether a driver's car is charging and how full it is, as both of the driver's
    pages say it (home and charging): charging at a depot means an open session on a
    charger (what the driver is billed for and can stop); the battery's level is the
    newer of the tracker's last reading and the charger's last meter value."""

    session: ChargingSession | None  # the driver's open session, if any
    soc_pct: int | None
    soc_at: datetime | None
    tracker_charging: bool  # the tracker says it charges (with or without a session)
    at_depot: bool  # the tracker's last position is at a depot

    @property
    def charging(self) -> bool:
        return self.session is not None

    @property
    def charging_elsewhere(self) -> bool:
        """The tracker says it charges away from our depots (not on our chargers). At a
        depot without a session the car is only plugged in: a session just ended, or
        the charger has not started it yet."""
        return self.session is None and self.tracker_charging and not self.at_depot


def charge_now(
    state: VehicleState | None, charging_session: ChargingSession | None, depots: list[Place]
) -> ChargeNow:
    soc, soc_at = (state.soc_pct, state.device_time) if state else (None, None)
    if charging_session is not None and charging_session.last_soc is not None:
        metered_at = charging_session.last_meter_at
        if soc is None or soc_at is None or (metered_at is not None and metered_at > soc_at):
            soc, soc_at = round(charging_session.last_soc), metered_at
    return ChargeNow(
        session=charging_session,
        soc_pct=soc,
        soc_at=soc_at,
        tracker_charging=bool(state and state.charging),
        at_depot=bool(state and near_a_depot(state.latitude, state.longitude, depots)),
    )


def get_charge_now(session: Session, driver_id: int) -> ChargeNow:
    """The driver's car's charge now (see ChargeNow), for the charging page."""
    vehicle_id = session.scalar(
        select(Contract.vehicle_id).where(
            Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE
        )
    )
    state = session.get(VehicleState, vehicle_id) if vehicle_id else None
    return charge_now(state, active_session(session, driver_id), depot_places(session))


@dataclass(frozen=True, slots=True)
class CarStatus:
    """A driver's car as its tracker last reported it, its charge as both of the
    driver's pages say it, and where it is in words."""

    vehicle: Vehicle
    state: VehicleState | None
    range_km: int | None
    today_km: float | None
    charge: ChargeNow
    place: NearbyPlace | None = None

    @property
    def soc_pct(self) -> int | None:
        return self.charge.soc_pct


def estimated_range_km(
    vehicle: Vehicle, state: VehicleState | None, soc_pct: int | None = None
) -> int | None:
    """The tracker's range-on-battery when the CAN adapter sends it (and no newer state
    of charge is given); else the state of charge times the car's rated range."""
    if state is None:
        return None
    newer = soc_pct is not None and soc_pct != state.soc_pct
    if state.range_m is not None and not newer:
        return round(state.range_m / 1000)
    soc = soc_pct if soc_pct is not None else state.soc_pct
    if soc is not None:
        return round(vehicle.range_km * soc / 100)
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
    depots = depot_places(session)
    charge = charge_now(state, active_session(session, driver_id), depots)
    place = describe_position(state.latitude, state.longitude, depots) if state else None
    return CarStatus(
        vehicle,
        state,
        estimated_range_km(vehicle, state, charge.soc_pct),
        today_km,
        charge,
        place,
    )


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
