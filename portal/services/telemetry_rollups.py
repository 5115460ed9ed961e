"""What jobs derive from the readings: trips, charging episodes, km per day, alerts.

Every rollup recomputes a window from the readings and replaces what it derived there
before, so running it twice, or after late records arrived, gives the same rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from portal.models import (
    AlertKind,
    ChargingEpisode,
    Depot,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleDailyKm,
    VehicleState,
    VehicleTrip,
)

LOCAL = ZoneInfo("America/Mexico_City")
MIN_TRIP_M = 200
"""Shorter drives (moving the car in the depot) are not trips."""
OPEN_WITHIN = timedelta(minutes=10)
"""A trip or episode whose last reading is this recent is still going on (no end)."""
DEPOT_RADIUS_KM = 0.5


@dataclass(frozen=True, slots=True)
class _Point:
    at: datetime
    latitude: float
    longitude: float
    valid: bool
    ignition: bool | None
    movement: bool | None
    speed: int
    odometer_m: int | None
    soc_pct: int | None
    charging: bool | None
    plugged: bool | None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _readings(session: Session, imei: str, since: datetime, until: datetime) -> list[_Point]:
    r = TelemetryReading
    rows = session.execute(
        select(
            r.device_time,
            r.latitude,
            r.longitude,
            r.position_valid,
            r.ignition,
            r.movement,
            r.speed,
            r.odometer_m,
            r.soc_pct,
            r.charging,
            r.plugged,
        )
        .where(r.imei == imei, r.device_time >= since, r.device_time <= until)
        .order_by(r.device_time)
    )
    return [_Point(*row) for row in rows]


def _segments(points: Sequence[_Point], active: Any) -> list[tuple[_Point | None, list[_Point]]]:
    """Runs of consecutive points for which `active(point)` is true, each with the point
    before it (where it started from) and ending with the first inactive point after it
    (where it ended), if there are such points."""
    runs: list[tuple[_Point | None, list[_Point]]] = []
    current: list[_Point] | None = None
    previous: _Point | None = None
    for point in points:
        if active(point):
            if current is None:
                current = []
                runs.append((previous, current))
            current.append(point)
        elif current is not None:
            current.append(point)
            current = None
        previous = point
    return runs


def _driving(point: _Point) -> bool:
    return bool(point.ignition if point.ignition is not None else point.movement)


def _charging(point: _Point) -> bool:
    return bool(point.charging if point.charging is not None else point.plugged)


def _window_start(
    session: Session, vehicle_id: int, now: datetime, lookback: timedelta
) -> datetime:
    since = now - lookback
    earliest = []
    for model in (VehicleTrip, ChargingEpisode):
        earliest.append(
            session.scalar(
                select(func.min(model.started_at)).where(
                    model.vehicle_id == vehicle_id,
                    or_(model.ended_at.is_(None), model.ended_at >= since),
                )
            )
        )
    return min([since, *[e for e in earliest if e is not None]])


def derive_activity(
    session: Session, vehicle_id: int, now: datetime, lookback: timedelta = timedelta(hours=3)
) -> tuple[int, int]:
    """Recompute the vehicle's trips and charging episodes of the last `lookback` (and of
    any trip or episode still open or ending in it). Returns (trips, episodes) written."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not vehicle.tracker_imei:
        return 0, 0
    since = _window_start(session, vehicle_id, now, lookback)
    points = _readings(session, vehicle.tracker_imei, since, now)
    depots = [
        (depot_id, float(lat), float(lon))
        for depot_id, lat, lon in session.execute(
            select(Depot.id, Depot.latitude, Depot.longitude).where(Depot.latitude.is_not(None))
        )
        if lat is not None and lon is not None
    ]
    return replace_activity(session, vehicle_id, since, points, depots, now)


def replace_activity(
    session: Session,
    vehicle_id: int,
    since: datetime,
    points: Sequence[_Point],
    depots: Sequence[tuple[int, float, float]],
    now: datetime,
) -> tuple[int, int]:
    """Replace the vehicle's trips and charging episodes from `since` with those of
    `points` (its readings from then on, in time order). (trips, episodes) written."""
    session.execute(
        delete(VehicleTrip).where(
            VehicleTrip.vehicle_id == vehicle_id, VehicleTrip.started_at >= since
        )
    )
    session.execute(
        delete(ChargingEpisode).where(
            ChargingEpisode.vehicle_id == vehicle_id, ChargingEpisode.started_at >= since
        )
    )
    trips, episodes = activity_from_points(vehicle_id, points, depots, now)
    if trips:
        session.execute(insert(VehicleTrip), trips)
    if episodes:
        session.execute(insert(ChargingEpisode), episodes)
    session.flush()
    return len(trips), len(episodes)


def reading_point(row: Sequence[Any]) -> _Point:
    """A reading row (telemetry.store.READING_COLUMNS order) as a point of the rollups."""
    return _Point(
        row[1],
        row[3],
        row[4],
        row[9],
        row[10],
        row[11],
        row[8],
        row[12],
        row[13],
        row[15],
        row[16],
    )


def activity_from_points(
    vehicle_id: int,
    points: Sequence[_Point],
    depots: Sequence[tuple[int, float, float]],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trips (ignition, else movement) and charging episodes (battery charging, else
    plugged; the depot within DEPOT_RADIUS_KM) in time-ordered points, as row values."""
    trips = []
    for before, run in _segments(points, _driving):
        first, last = run[0], run[-1]
        ended = last.at if not _driving(last) or now - last.at > OPEN_WITHIN else None
        distance = _run_distance_m([before, *run] if before else run)
        if ended is not None and distance < MIN_TRIP_M:
            continue
        trips.append(
            {
                "vehicle_id": vehicle_id,
                "started_at": first.at,
                "ended_at": ended,
                "start_latitude": first.latitude,
                "start_longitude": first.longitude,
                "end_latitude": last.latitude,
                "end_longitude": last.longitude,
                "distance_m": distance,
                "max_speed": max(p.speed for p in run),
                "start_soc_pct": first.soc_pct,
                "end_soc_pct": last.soc_pct,
            }
        )
    episodes = []
    for _before, run in _segments(points, _charging):
        first, last = run[0], run[-1]
        ended = last.at if not _charging(last) or now - last.at > OPEN_WITHIN else None
        depot_id = next(
            (
                d
                for d, lat, lon in depots
                if distance_km(first.latitude, first.longitude, lat, lon) < DEPOT_RADIUS_KM
            ),
            None,
        )
        episodes.append(
            {
                "vehicle_id": vehicle_id,
                "started_at": first.at,
                "ended_at": ended,
                "start_soc_pct": first.soc_pct,
                "end_soc_pct": max((p.soc_pct for p in run if p.soc_pct is not None), default=None),
                "latitude": first.latitude,
                "longitude": first.longitude,
                "depot_id": depot_id,
            }
        )
    return trips, episodes


def _run_distance_m(run: Sequence[_Point]) -> int:
    odometers = [p.odometer_m for p in run if p.odometer_m is not None]
    if len(odometers) >= 2:
        return max(0, odometers[-1] - odometers[0])
    fixes = [p for p in run if p.valid]
    return round(
        1000
        * sum(
            distance_km(a.latitude, a.longitude, b.latitude, b.longitude)
            for a, b in itertools.pairwise(fixes)
        )
    )


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=LOCAL)
    return start, start + timedelta(days=1)


def km_on_day(session: Session, imei: str, day: date) -> tuple[int, int] | None:
    """(first, last) odometer readings of the local day, or None without readings."""
    start, end = local_day_bounds(day)
    r = TelemetryReading
    row = session.execute(
        select(func.min(r.odometer_m), func.max(r.odometer_m)).where(
            r.imei == imei, r.device_time >= start, r.device_time < end
        )
    ).one()
    low, high = row
    return None if low is None or high is None else (int(low), int(high))


def rollup_daily_km(session: Session, vehicle_id: int, day: date) -> VehicleDailyKm | None:
    """Write the vehicle's km for a local day from its odometer (max - min)."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not vehicle.tracker_imei:
        return None
    span = km_on_day(session, vehicle.tracker_imei, day)
    if span is None:
        return None
    first, last = span
    km = (Decimal(last - first) / 1000).quantize(Decimal("0.1"))
    row = session.get(VehicleDailyKm, (vehicle_id, day))
    if row is None:
        row = VehicleDailyKm(vehicle_id=vehicle_id, day=day)
        session.add(row)
    row.km, row.first_odometer_m, row.last_odometer_m = km, first, last
    session.flush()
    return row


def vehicles_reporting_since(session: Session, since: datetime) -> list[int]:
    return list(
        session.scalars(
            select(VehicleState.vehicle_id)
            .where(VehicleState.device_time >= since)
            .order_by(VehicleState.vehicle_id)
        )
    )


@dataclass(frozen=True, slots=True)
class AlertChanges:
    opened: int
    closed: int


def check_alerts(
    session: Session, now: datetime, *, silent_after: timedelta, low_soc_pct: int
) -> AlertChanges:
    """Open an alert for each vehicle silent longer than `silent_after` or under
    `low_soc_pct` and not charging; close the alerts whose condition has cleared."""
    states = session.scalars(select(VehicleState)).all()
    wanted: dict[tuple[int, AlertKind], str] = {}
    for state in states:
        if now - state.device_time > silent_after:
            wanted[(state.vehicle_id, AlertKind.SILENT)] = (
                f"last reading {state.device_time:%Y-%m-%d %H:%M} UTC"
            )
        if state.soc_pct is not None and state.soc_pct < low_soc_pct and not state.charging:
            wanted[(state.vehicle_id, AlertKind.LOW_SOC)] = f"state of charge {state.soc_pct}%"
    open_alerts = {
        (a.vehicle_id, a.kind): a
        for a in session.scalars(select(VehicleAlert).where(VehicleAlert.closed_at.is_(None)))
    }
    closed = 0
    for key, alert in open_alerts.items():
        if key not in wanted:
            alert.closed_at = max(now, alert.opened_at)
            closed += 1
    opened = 0
    for (vehicle_id, kind), detail in wanted.items():
        if (vehicle_id, kind) not in open_alerts:
            session.add(
                VehicleAlert(vehicle_id=vehicle_id, kind=kind, detail=detail, opened_at=now)
            )
            opened += 1
    session.flush()
    return AlertChanges(opened, closed)
