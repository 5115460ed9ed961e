"""The demo's one simulated world: where every car is, what its battery holds, and which
connector it charges on, at any moment — a deterministic function of the database's
cars, drivers, depots, connectors, bookings and drivers' remote commands, a seed and the
wall clock.

Both simulators import it and follow it: the trackers (`telemetry.simulate --demo`)
report each car as the plan has it, and the chargers (`charging.simulate`) run an OCPP
session exactly while the plan has a car plugged in on one of their connectors. Neither
keeps state the other needs; whichever starts first, they agree. The demo's history
(`portal.demo.history`) is the same plan over the past: the ledger's energy charges, the
charging sessions, the daily km and a week of telemetry are what it says happened.

How a car's day goes (a "world day" is a calendar day in Mexico City):

- Every car under an active contract whose driver has a charging card works six days in
  seven (a day off is drawn). It leaves its depot in the morning, drives passengers
  between Mexico City's places (the gazetteer's landmarks and colonias) and comes back
  to charge at its depot; after the charge it drives the evening and parks at the depot.
- The day is anchored on its state of charge: it starts at the day's anchor (45-65 %),
  the morning ends at 15-30 %, the charge goes to 85-100 %, and the evening ends at the
  next day's anchor. The kilometres follow (capacity × percent ÷ kWh per km), so each
  day's km, and the odometer, are known without simulating the days before.
- A booking the driver made (known from the moment it was made: nothing before that
  changes) brings the car to the depot for its window, on the booked connector when it
  is free. Otherwise the car takes any free connector of its type that nobody has
  booked for the next hour, and queues when there is none.
- A car that would fall under 10 % before it could get back charges again (a top-up).
- A remote start the driver asked for from the phone (a `remote_start` command) plugs
  the car in on that connector if it is free and the car is not charging: the driver is
  at the depot with it (the plan moves the car there). A remote stop ends the session.
- While plugged in the car charges at its own DC power (to 80 %, then half of it); the
  battery gains the metered energy × the car's charging efficiency ÷ its capacity.
- Each car's battery fades at its own seeded rate: `telemetry.battery.draw_car` with the
  car's VIN is the simulation's truth (`World.battery`, `battery_truth`), the same one
  the battery-health benchmark measures against.

What can still step: a day whose plan could not close on its anchor (a remote session
after the day's charge, a charge cut short) ends off the next day's anchor, and the
next day starts from its own anchor at midnight, when the car is parked.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import heapq
import itertools
import math
import random
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from time import monotonic as _monotonic
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import numpy as np

from portal.services.places import Place, distance_m, gazetteer
from telemetry.battery.simulate import SimulatedCar, draw_car

WORLD_SEED = 14
LOCAL = ZoneInfo("America/Mexico_City")
DAY_STARTS = time(0, 0)
"""A world day is a local calendar day: every car is parked at its depot at midnight (the
evening's last trips go faster to be home by then), so a day's km are the calendar day's
km the telemetry rollup counts."""
ODOMETER_EPOCH = date(2025, 1, 6)
"""World days are counted from here: a car's odometer adds up its days since then."""
ROAD_FACTOR = 1.3
"""Kilometres driven per kilometre as the crow flies, in the city."""
RESERVE_PCT = 10.0
"""A car does not start a trip that would leave it under this before it is back."""
TAPER_FROM_PCT = 80.0
"""DC charging runs at the car's full power up to here, then at half of it."""
BOOKING_HOLD = timedelta(minutes=60)
"""A connector booked by someone else this soon is not taken by a car without one."""
MANUAL_PLUG_DELAY = timedelta(seconds=20)
"""From a driver's remote start to the car plugged in and charging."""
MANUAL_STOP_DELAY = timedelta(seconds=5)
"""From a remote stop to the session ended."""
MANUAL_TARGET_PCT = 100.0
"""A session the driver started runs until the battery is full (or they stop it)."""
CAR_DC_KW = {30.0: 30.0, 31.4: 36.0, 38.8: 40.0}
"""The cars' DC charging power by battery size (the demo's catalogue), kW into the battery."""
DEFAULT_DC_KW = 40.0
ANCHORED_KMH = 24.0
"""The average speed of a morning in traffic, for days whose trips are not simulated."""
REFRESH_SECONDS = 10.0
"""How often the simulators read the world's inputs again (new bookings and commands)."""


# --- Inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorldDepot:
    id: int
    code: str
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class WorldConnector:
    id: int  # charger_connectors.id
    charger_id: int
    identity: str  # the charger's OCPP identity
    evse_id: int
    depot_id: int
    connector_type: str
    max_kw: float


@dataclass(frozen=True, slots=True)
class WorldCar:
    vehicle_id: int
    vin: str
    imei: str | None
    plate: str
    model: str
    depot_id: int
    connector_type: str
    nominal_kwh: float
    range_km: float
    commissioned: date
    driver_id: int | None = None  # of the active contract
    id_tag: str | None = None  # the driver's active charging card (the oldest)
    in_service_from: date | None = None  # the contract's start; None: the car stays parked

    def works_on(self, day: date) -> bool:
        return (
            self.id_tag is not None
            and self.in_service_from is not None
            and day >= self.in_service_from
        )


@dataclass(frozen=True, slots=True)
class WorldBooking:
    id: int
    driver_id: int
    depot_id: int
    connector_id: int | None
    window_start: datetime
    window_end: datetime
    known_from: datetime  # created
    known_until: datetime | None = None  # cancelled

    def known_at(self, at: datetime) -> bool:
        return self.known_from <= at and (self.known_until is None or at < self.known_until)


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A driver's remote start (the command as the portal logged it)."""

    at: datetime
    id_tag: str
    connector_id: int


@dataclass(frozen=True, slots=True)
class StopRequest:
    """A remote stop of the session that started on `connector_id` at `session_started`."""

    at: datetime
    connector_id: int
    session_started: datetime


@dataclass(frozen=True, slots=True)
class WorldInputs:
    depots: tuple[WorldDepot, ...]
    connectors: tuple[WorldConnector, ...]
    cars: tuple[WorldCar, ...]
    bookings: tuple[WorldBooking, ...] = ()
    starts: tuple[StartRequest, ...] = ()
    stops: tuple[StopRequest, ...] = ()


# --- What the plan says ---------------------------------------------------------------------

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ChargePhase:
    start: datetime
    end: datetime
    soc_start: float
    soc_end: float
    energy_start_wh: float  # metered since the session began
    energy_end_wh: float

    @property
    def power_kw(self) -> float:
        hours = (self.end - self.start).total_seconds() / 3600
        return (self.energy_end_wh - self.energy_start_wh) / 1000 / hours if hours > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A car plugged in on a connector, from plug-in to unplug (the OCPP session)."""

    key: str  # unique in the world: "<vin>:<world day>:<n>"
    vehicle_id: int
    driver_id: int
    id_tag: str
    connector_id: int
    depot_id: int
    start: datetime
    end: datetime
    phases: tuple[ChargePhase, ...]
    efficiency: float
    capacity_kwh: float
    booking_id: int | None = None
    manual: bool = False  # started by the driver's remote start
    stop_reason: str = "EVDisconnected"  # "Remote" when a remote stop ended it

    def _phase(self, at: datetime) -> ChargePhase:
        for phase in self.phases:
            if at < phase.end:
                return phase
        return self.phases[-1]

    def energy_wh(self, at: datetime) -> float:
        """Metered energy since the start (Wh)."""
        if at <= self.start:
            return 0.0
        phase = self._phase(at)
        return _lerp(phase.start, phase.end, phase.energy_start_wh, phase.energy_end_wh, at)

    def soc(self, at: datetime) -> float:
        phase = self._phase(max(at, self.start))
        return _lerp(phase.start, phase.end, phase.soc_start, phase.soc_end, at)

    def power_kw(self, at: datetime) -> float:
        """The metered power the car draws (before any limit the charger puts on it)."""
        if not self.start <= at < self.end:
            return 0.0
        return self._phase(at).power_kw

    @property
    def energy_total_wh(self) -> float:
        return self.phases[-1].energy_end_wh

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a car's day: parked, driving (along `path`) or plugged in."""

    kind: str  # parked | driving | charging
    start: datetime
    end: datetime
    path: tuple[Point, ...]  # one point unless driving
    soc_start: float
    soc_end: float
    odometer_start_m: float
    odometer_end_m: float
    session: PlannedSession | None = None


@dataclass(frozen=True, slots=True)
class CarMoment:
    """A car at one instant, as its tracker would read it."""

    at: datetime
    latitude: float
    longitude: float
    heading: int
    speed_kmh: float
    ignition: bool
    soc: float  # percent, unrounded
    odometer_m: float
    plugged: bool
    session: PlannedSession | None

    @property
    def charging(self) -> bool:
        return self.session is not None

    @property
    def moving(self) -> bool:
        return self.speed_kmh > 0


@dataclass(frozen=True, slots=True)
class DayDraw:
    """A car's day as its anchors say (no simulation needed)."""

    day: date
    works: bool
    start_soc: float
    charge_at_soc: float  # where the morning ends
    target_soc: float  # what the day's charge goes to
    end_soc: float  # the next day's anchor
    leave_hour: float  # local hours after midnight
    morning_km: float
    evening_km: float
    start_odometer_m: float
    capacity_kwh: float

    @property
    def km(self) -> float:
        return self.morning_km + self.evening_km


@dataclass
class CarDay:
    """One car's world day: segments covering [day start, next day start)."""

    car: WorldCar
    draw: DayDraw
    segments: list[Segment] = field(default_factory=list)

    @cached_property
    def starts(self) -> list[datetime]:
        return [s.start for s in self.segments]

    def segment_at(self, at: datetime) -> Segment:
        index = bisect.bisect_right(self.starts, at) - 1
        return self.segments[max(0, min(index, len(self.segments) - 1))]

    @property
    def sessions(self) -> list[PlannedSession]:
        return [s.session for s in self.segments if s.session is not None]

    @property
    def km(self) -> float:
        return (self.segments[-1].odometer_end_m - self.segments[0].odometer_start_m) / 1000


@dataclass
class DepotDay:
    depot: WorldDepot
    day: date
    cars: dict[int, CarDay]

    @property
    def sessions(self) -> list[PlannedSession]:
        return sorted(
            (s for car_day in self.cars.values() for s in car_day.sessions),
            key=lambda s: (s.start, s.connector_id),
        )


# --- Time -----------------------------------------------------------------------------------


def _lerp(t0: datetime, t1: datetime, v0: float, v1: float, at: datetime) -> float:
    span = (t1 - t0).total_seconds()
    if span <= 0 or at >= t1:
        return v1
    if at <= t0:
        return v0
    return v0 + (v1 - v0) * (at - t0).total_seconds() / span


def world_day(at: datetime) -> date:
    """The world day an instant belongs to (its local date)."""
    local = at.astimezone(LOCAL)
    return (local - timedelta(hours=DAY_STARTS.hour, minutes=DAY_STARTS.minute)).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, DAY_STARTS, LOCAL).astimezone(UTC)


def _local_hours(day: date, hours: float) -> datetime:
    return (datetime.combine(day, time(0), LOCAL) + timedelta(hours=hours)).astimezone(UTC)


# --- Geography ------------------------------------------------------------------------------


def road_km(a: Point, b: Point) -> float:
    return ROAD_FACTOR * distance_m(a[0], a[1], b[0], b[1]) / 1000


def _bearing(a: Point, b: Point) -> int:
    dlat = b[0] - a[0]
    dlon = (b[1] - a[1]) * math.cos(math.radians(a[0]))
    if dlat == 0 and dlon == 0:
        return 0
    return round(math.degrees(math.atan2(dlon, dlat))) % 360


def point_along(path: Sequence[Point], fraction: float) -> tuple[Point, int]:
    """The point `fraction` of the way along a path, and the heading there."""
    if len(path) == 1:
        return path[0], 0
    pieces = list(itertools.pairwise(path))
    lengths = [
        math.hypot(b[0] - a[0], (b[1] - a[1]) * math.cos(math.radians(a[0]))) for a, b in pieces
    ]
    goal = max(0.0, min(1.0, fraction)) * sum(lengths)
    for n, ((a, b), length) in enumerate(zip(pieces, lengths, strict=True)):
        if goal <= length or n == len(pieces) - 1:
            f = min(1.0, goal / length) if length else 1.0
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), _bearing(a, b)
        goal -= length
    return path[-1], 0


@dataclass(frozen=True, slots=True)
class _Places:
    """Where cars take passengers: the gazetteer's landmarks and colonias (Metro
    stations are left out: they are the same places as their colonias)."""

    names: tuple[str, ...]
    points: np.ndarray  # (n, 2) degrees
    road: np.ndarray  # (n, n) road km between them

    @classmethod
    def build(cls, places: Iterable[Place]) -> _Places:
        chosen = [p for p in places if p.kind in ("landmark", "colonia")]
        points = np.array([(p.latitude, p.longitude) for p in chosen], dtype=float)
        lat = np.radians(points[:, 0])
        dlat = lat[:, None] - lat[None, :]
        dlon = np.radians(points[:, 1])[:, None] - np.radians(points[:, 1])[None, :]
        a = (
            np.sin(dlat / 2) ** 2
            + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
        )
        road = ROAD_FACTOR * 2 * 6371.0 * np.arcsin(np.sqrt(a))
        return cls(tuple(p.name for p in chosen), points, road)

    def road_km_from(self, point: Point) -> np.ndarray:
        lat = np.radians(self.points[:, 0])
        dlat = lat - math.radians(point[0])
        dlon = np.radians(self.points[:, 1] - point[1])
        a = (
            np.sin(dlat / 2) ** 2
            + math.cos(math.radians(point[0])) * np.cos(lat) * np.sin(dlon / 2) ** 2
        )
        return ROAD_FACTOR * 2 * 6371.0 * np.arcsin(np.sqrt(a))


@dataclass(frozen=True, slots=True)
class _DayDraws:
    """A car's days from ODOMETER_EPOCH, as arrays (index = days since the epoch)."""

    works: np.ndarray
    start_soc: np.ndarray
    charge_at_soc: np.ndarray
    target_soc: np.ndarray
    end_soc: np.ndarray
    leave_hour: np.ndarray
    morning_km: np.ndarray
    evening_km: np.ndarray
    start_odometer_m: np.ndarray
    capacity_kwh: np.ndarray

    @classmethod
    def build(
        cls, seed: int, car: WorldCar, battery: SimulatedCar, n: int, booked: Iterable[date] = ()
    ) -> _DayDraws:
        """`n` days. Each day's draws come from its own row of one stream per car, so a
        day is the same however many days are drawn. A day the driver had booked a slot
        for before it began is a working day."""
        u = np.random.default_rng([seed, zlib.crc32(car.vin.encode()), 21]).random((n + 1, 6))
        base = np.random.default_rng([seed, zlib.crc32(car.vin.encode()), 22])
        days = np.arange(n)
        if car.works_on(car.in_service_from or ODOMETER_EPOCH):
            first = ((car.in_service_from or ODOMETER_EPOCH) - ODOMETER_EPOCH).days
            wanted = u[:n, 0] >= 1 / 7
            for day in booked:
                if 0 <= (day - ODOMETER_EPOCH).days < n:
                    wanted[(day - ODOMETER_EPOCH).days] = True
            works = (days >= first) & wanted
        else:
            works = np.zeros(n, dtype=bool)
        # The capacity at noon in Mexico City (18:00 UTC), as the battery's truth has it.
        age = (ODOMETER_EPOCH - car.commissioned).days + days + 0.25
        soh = (
            battery.initial_soh_percent
            - battery.fade_percent_per_year * np.maximum(age, 0) / 365.25
        )
        capacity = battery.nominal_kwh * soh / 100
        drawn = 45.0 + 20.0 * u[:, 1]  # the anchor of the day each row starts
        # A day starts on its own anchor after a working day, else where the day before did.
        fresh = np.zeros(n, dtype=int)
        fresh[1:] = np.where(works[:-1], days[1:], 0)
        start = drawn[np.maximum.accumulate(fresh)]
        end = np.where(works, drawn[1 : n + 1], start)
        charge_at = np.where(works, 15.0 + 15.0 * u[:n, 2], start)
        target = np.where(works, 85.0 + 15.0 * u[:n, 3], start)
        pct_km = capacity / 100 / battery.kwh_per_km
        morning = (start - charge_at) * pct_km
        evening = (target - end) * pct_km
        odometer = float(base.uniform(5_000, 40_000)) * 1000 + np.concatenate(
            ([0.0], np.cumsum((morning + evening) * 1000)[:-1])
        )
        return cls(
            works=works,
            start_soc=start,
            charge_at_soc=charge_at,
            target_soc=target,
            end_soc=end,
            leave_hour=5.5 + 2.5 * u[:n, 4],
            morning_km=morning,
            evening_km=evening,
            start_odometer_m=odometer,
            capacity_kwh=capacity,
        )

    def day(self, index: int) -> DayDraw:
        return DayDraw(
            day=ODOMETER_EPOCH + timedelta(days=index),
            works=bool(self.works[index]),
            start_soc=float(self.start_soc[index]),
            charge_at_soc=float(self.charge_at_soc[index]),
            target_soc=float(self.target_soc[index]),
            end_soc=float(self.end_soc[index]),
            leave_hour=float(self.leave_hour[index]),
            morning_km=float(self.morning_km[index]),
            evening_km=float(self.evening_km[index]),
            start_odometer_m=float(self.start_odometer_m[index]),
            capacity_kwh=float(self.capacity_kwh[index]),
        )


# --- The world ------------------------------------------------------------------------------


class World:
    """The plan for `inputs` under `seed`. Depot-days are computed on demand and kept;
    give the world new inputs (`World(new_inputs)`) when the database changes."""

    def __init__(self, inputs: WorldInputs, seed: int = WORLD_SEED) -> None:
        self.inputs = inputs
        self.seed = seed
        self.cars = {c.vehicle_id: c for c in inputs.cars}
        self.depots = {d.id: d for d in inputs.depots}
        self.connectors = {c.id: c for c in inputs.connectors}
        self.cars_by_tag = {c.id_tag: c for c in inputs.cars if c.id_tag}
        self.booked_days: dict[int, set[date]] = {}  # driver → days booked before they began
        depot_of = {c.driver_id: c.depot_id for c in inputs.cars if c.driver_id}
        for b in inputs.bookings:
            day = world_day(b.window_start)
            if depot_of.get(b.driver_id) == b.depot_id and b.known_at(day_start(day)):
                self.booked_days.setdefault(b.driver_id, set()).add(day)
        self.places = _Places.build(gazetteer())
        self._days: dict[tuple[int, date], DepotDay] = {}
        self._draws: dict[int, _DayDraws] = {}

    # -- Each car's truth and constants ---------------------------------------------------

    def battery(self, car: WorldCar) -> SimulatedCar:
        """The car's battery as the simulation knows it (the truth battery health is
        measured against): its fade rate, capacity on any day, charging efficiency."""
        return _battery(self.seed, car)

    def parking_spot(self, car: WorldCar) -> Point:
        """Where the car stands at its depot (within ~40 m of the depot's point)."""
        depot = self.depots[car.depot_id]
        h = zlib.crc32(car.vin.encode())
        return (
            depot.latitude + ((h % 1000) / 1000 - 0.5) * 0.0006,
            depot.longitude + (((h // 1000) % 1000) / 1000 - 0.5) * 0.0006,
        )

    def dc_kw(self, car: WorldCar, connector: WorldConnector) -> float:
        """kW into the battery: the car's DC limit or the connector's, whichever is less."""
        return min(CAR_DC_KW.get(round(car.nominal_kwh, 1), DEFAULT_DC_KW), connector.max_kw)

    # -- Days by their anchors -------------------------------------------------------------

    def draw(self, car: WorldCar, day: date) -> DayDraw:
        """The car's day `day` as its anchors say: whether it works, its state of charge at
        the day's start, end of morning, after its charge and at the day's end, and so its
        km and odometer. Closed form: no day is simulated for it."""
        if day < ODOMETER_EPOCH:
            raise ValueError(f"the world starts on {ODOMETER_EPOCH}")
        index = (day - ODOMETER_EPOCH).days
        draws = self._draws.get(car.vehicle_id)
        if draws is None or index >= len(draws.works):
            booked = self.booked_days.get(car.driver_id or 0, ())
            draws = _DayDraws.build(self.seed, car, self.battery(car), index + 60, booked)
            self._draws[car.vehicle_id] = draws
        return draws.day(index)

    # -- Depot-days --------------------------------------------------------------------------

    def depot_day(self, depot_id: int, day: date) -> DepotDay:
        key = (depot_id, day)
        found = self._days.get(key)
        if found is None:
            found = _simulate_depot_day(self, self.depots[depot_id], day)
            self._days[key] = found
        return found

    def car_day(self, vehicle_id: int, day: date) -> CarDay:
        return self.depot_day(self.cars[vehicle_id].depot_id, day).cars[vehicle_id]

    # -- Instants ----------------------------------------------------------------------------

    def car_at(self, vehicle_id: int, at: datetime) -> CarMoment:
        """The car at `at`, as its tracker reads it."""
        segment = self.car_day(vehicle_id, world_day(at)).segment_at(at)
        fraction = (
            (at - segment.start).total_seconds() / (segment.end - segment.start).total_seconds()
            if segment.end > segment.start
            else 1.0
        )
        fraction = max(0.0, min(1.0, fraction))
        point, heading = point_along(segment.path, fraction)
        odometer = (
            segment.odometer_start_m
            + (segment.odometer_end_m - segment.odometer_start_m) * fraction
        )
        driving = segment.kind == "driving"
        if segment.session is not None:
            soc = segment.session.soc(at)
        else:
            soc = segment.soc_start + (segment.soc_end - segment.soc_start) * fraction
        hours = (segment.end - segment.start).total_seconds() / 3600
        speed = (segment.odometer_end_m - segment.odometer_start_m) / 1000 / hours if driving else 0
        return CarMoment(
            at=at,
            latitude=point[0],
            longitude=point[1],
            heading=heading if driving else 0,
            speed_kmh=speed,
            ignition=driving,
            soc=soc,
            odometer_m=odometer,
            plugged=segment.session is not None,
            session=segment.session,
        )

    def session_on(self, connector_id: int, at: datetime) -> PlannedSession | None:
        """The session running on a connector at `at`, if any."""
        connector = self.connectors[connector_id]
        for day in (world_day(at), world_day(at) - timedelta(days=1)):
            for session in self.depot_day(connector.depot_id, day).sessions:
                if session.connector_id == connector_id and session.active(at):
                    return session
        return None

    def remote_session(self, request: StartRequest) -> PlannedSession | None:
        """The session a driver's remote start began, if the plan accepted it."""
        start = request.at + MANUAL_PLUG_DELAY
        connector = self.connectors.get(request.connector_id)
        if connector is None:
            return None
        for session in self.depot_day(connector.depot_id, world_day(start)).sessions:
            if (
                session.manual
                and session.connector_id == request.connector_id
                and session.id_tag == request.id_tag
                and session.start == start
            ):
                return session
        return None

    def anchored_sessions(self, depot_id: int, day: date) -> list[PlannedSession]:
        """The depot's charges on `day` as the cars' anchors have them, without simulating
        their trips (the history's older weeks): each working car plugs in when its
        morning's km are done (at ANCHORED_KMH, plus a stop per 12 km), on the first
        connector of its type that is free. The same energy and state of charge as the
        simulated day's main charge; only the time and the connector are estimates."""
        connectors = sorted(
            (c for c in self.connectors.values() if c.depot_id == depot_id),
            key=lambda c: (c.identity, c.evse_id),
        )
        free_at = {c.id: day_start(day) for c in connectors}
        wanted = []
        for car in sorted(self.cars.values(), key=lambda c: c.vehicle_id):
            draw = self.draw(car, day) if car.depot_id == depot_id else None
            if draw is None or not draw.works:
                continue
            hours = draw.morning_km / ANCHORED_KMH + draw.morning_km / 12 * 8 / 60
            wanted.append((_local_hours(day, draw.leave_hour + hours), car, draw))
        sessions = []
        for arrives, car, draw in sorted(wanted, key=lambda w: (w[0], w[1].vehicle_id)):
            fits = [c for c in connectors if c.connector_type == car.connector_type]
            if not fits:
                continue
            connector = min(fits, key=lambda c: (max(free_at[c.id], arrives), c.id))
            start = max(free_at[connector.id], arrives) + timedelta(minutes=2)
            session = _plan_session(
                key=f"{car.vin}:{day.isoformat()}:1",
                car=car,
                connector=connector,
                start=start,
                soc=draw.charge_at_soc,
                target=draw.target_soc,
                capacity_kwh=draw.capacity_kwh,
                battery_kw=self.dc_kw(car, connector),
                efficiency=self.battery(car).dc_efficiency,
                booking_id=None,
                manual=False,
            )
            free_at[connector.id] = session.end + timedelta(minutes=1)
            sessions.append(session)
        return sorted(sessions, key=lambda s: (s.start, s.connector_id))

    def sessions_between(
        self, start: datetime, end: datetime, depot_id: int | None = None
    ) -> list[PlannedSession]:
        """Every session that ended in [start, end), in time order."""
        found = []
        depots = [depot_id] if depot_id is not None else sorted(self.depots)
        day = world_day(start) - timedelta(days=1)
        while day <= world_day(end):
            for d in depots:
                found += [s for s in self.depot_day(d, day).sessions if start <= s.end < end]
            day += timedelta(days=1)
        return sorted(found, key=lambda s: (s.end, s.connector_id))


# --- The battery truth ----------------------------------------------------------------------


def _battery(seed: int, car: WorldCar) -> SimulatedCar:
    commissioned = datetime.combine(car.commissioned, time(12), UTC)
    return draw_car(
        seed,
        car.vin,
        commissioned=commissioned,
        model=car.model,
        nominal_kwh=car.nominal_kwh,
    )


@dataclass(frozen=True, slots=True)
class BatteryTruth:
    vehicle_id: int
    plate: str
    nominal_kwh: float
    commissioned: date
    fade_percent_per_year: float
    capacity_kwh: float
    soh_percent: float
    dc_efficiency: float


def battery_truth(world: World, at: datetime) -> list[BatteryTruth]:
    """Every car's true battery at `at` (what battery-health estimates are checked against)."""
    rows = []
    for car in sorted(world.cars.values(), key=lambda c: c.vehicle_id):
        battery = world.battery(car)
        rows.append(
            BatteryTruth(
                vehicle_id=car.vehicle_id,
                plate=car.plate,
                nominal_kwh=car.nominal_kwh,
                commissioned=car.commissioned,
                fade_percent_per_year=round(battery.fade_percent_per_year, 4),
                capacity_kwh=round(battery.capacity_kwh(at), 3),
                soh_percent=round(battery.soh_percent(at), 3),
                dc_efficiency=round(battery.dc_efficiency, 4),
            )
        )
    return rows


def write_truth_csv(world: World, at: datetime, out: TextIO) -> int:
    """The battery truth of every car at `at` as CSV (a header, then a row per car)."""
    rows = battery_truth(world, at)
    writer = csv.writer(out)
    writer.writerow([f.name for f in fields(BatteryTruth)])
    for row in rows:
        writer.writerow([getattr(row, f.name) for f in fields(BatteryTruth)])
    return len(rows)


# --- A depot's day, simulated ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sleep:
    until: datetime


@dataclass(frozen=True, slots=True)
class _Plug:
    """Queue for a connector (the booked one when it is free)."""

    booking: WorldBooking | None


@dataclass(frozen=True, slots=True)
class _Charge:
    session: PlannedSession


@dataclass(frozen=True, slots=True)
class _Interrupt:
    """What wakes a car early: a remote start for it, or a remote stop of its session."""

    at: datetime
    connector_id: int | None = None  # a remote start on this connector
    stop: bool = False


_Request = _Sleep | _Plug | _Charge
_Step = Generator[_Request, Any, _Interrupt | None]


class _CarLife:
    """One car's world day as a process: it records its segments and yields what it
    waits for (a time, a connector, the end of its charge); the depot's loop sends back
    a connector or an interrupt."""

    def __init__(self, world: World, car: WorldCar, day: date) -> None:
        self.world = world
        self.car = car
        self.day = day
        self.draw = world.draw(car, day)
        self.battery = world.battery(car)
        self.rng = random.Random(f"world:{world.seed}:{car.vin}:{day.isoformat()}")
        self.home = world.parking_spot(car)
        self.back_km = world.places.road_km_from(self.home)
        self.t = day_start(day)
        self.end = day_start(day + timedelta(days=1))
        self.position: Point = self.home
        self.place: int | None = None  # the gazetteer place the car is at (for distances)
        self.soc = self.draw.start_soc
        self.odometer = self.draw.start_odometer_m
        self.km_left = self.draw.km  # what the day still has to drive
        self.charged = False  # the day's charge is done
        self.used_bookings: set[int] = set()
        self.segments: list[Segment] = []
        self.sessions = 0

    @property
    def pct_per_km(self) -> float:
        return self.battery.kwh_per_km / self.draw.capacity_kwh * 100

    # -- The timeline ------------------------------------------------------------------------

    def _add(self, segment: Segment) -> None:
        self.segments.append(segment)
        self.t = segment.end
        self.position = segment.path[-1]
        self.soc = segment.soc_end
        self.odometer = segment.odometer_end_m

    def park(self, until: datetime) -> bool:
        """Stay where the car is until `until` (False when that is not later)."""
        until = min(until, self.end)
        if until <= self.t:
            return False
        self._add(
            Segment(
                "parked",
                self.t,
                until,
                (self.position,),
                self.soc,
                self.soc,
                self.odometer,
                self.odometer,
            )
        )
        return True

    def settle(self, at: datetime) -> None:
        """Bring the timeline to `at`: cut the last segment there (an interruption), or
        stay parked until then."""
        if self.t <= at:
            self.park(at)
            return
        last = self.segments.pop()
        if last.kind == "driving":
            self.place = None  # somewhere on the way
        span = (last.end - last.start).total_seconds()
        f = max(0.0, min(1.0, (at - last.start).total_seconds() / span)) if span else 1.0
        if last.kind == "driving":
            point, _heading = point_along(last.path, f)
            full = last.odometer_end_m - last.odometer_start_m
            self.km_left += full * (1 - f) / 1000  # driven later
            kept = max(1, math.ceil(f * (len(last.path) - 1)))
            last = replace(
                last,
                end=at,
                path=(*last.path[:kept], point),
                soc_end=last.soc_start + (last.soc_end - last.soc_start) * f,
                odometer_end_m=last.odometer_start_m + full * f,
            )
        elif last.session is not None:
            session = _cut_session(last.session, at, "Remote")
            last = replace(last, end=at, soc_end=session.soc(at), session=session)
        else:
            last = replace(last, end=at)
        if last.end > last.start:
            self._add(last)
        else:
            self.t = at

    def drive(self, to: Point, km: float) -> Segment:
        """A leg to `to` with `km` on the odometer, at city speed (faster at night), fast
        enough to be home by the day's end."""
        speed = self.rng.uniform(16, 32)
        hour = self.t.astimezone(LOCAL).hour
        if hour >= 22 or hour < 5:
            speed *= 1.5
        hours_left = (self.end - self.t).total_seconds() / 3600 - 0.1
        if km / speed > hours_left:
            speed = km / max(hours_left, 0.05)
        corner = (self.position[0], to[1]) if self.rng.random() < 0.5 else (to[0], self.position[1])
        segment = Segment(
            "driving",
            self.t,
            self.t + timedelta(seconds=max(60, round(km / speed * 3600))),
            (self.position, corner, to),
            self.soc,
            self.soc - km * self.pct_per_km,
            self.odometer,
            self.odometer + km * 1000,
        )
        self._add(segment)
        self.km_left -= km
        return segment

    # -- Decisions ---------------------------------------------------------------------------

    def at_home(self) -> bool:
        return road_km(self.position, self.home) < 0.05

    def booking(self) -> WorldBooking | None:
        """The next window of the driver's bookings at the car's depot known now and not
        yet used (none once the day's charge is done: one charge a day)."""
        if self.charged or self.car.driver_id is None:
            return None
        found = [
            b
            for b in self.world.inputs.bookings
            if b.driver_id == self.car.driver_id
            and b.depot_id == self.car.depot_id
            and b.id not in self.used_bookings
            and b.known_at(self.t)
            and b.window_end > self.t
            and b.window_start < self.end
        ]
        return min(found, key=lambda b: (b.window_start, b.id)) if found else None

    def next_place(self, budget_km: float, hours: float | None = None) -> Point | None:
        """A destination the car can reach and still get home within `budget_km`, on its
        battery (keeping the reserve) and, given `hours`, in that time; None if none fits."""
        places = self.world.places
        if self.place is not None:
            out = places.road[self.place]
        else:
            out = places.road_km_from(self.position)
        battery_km = (self.soc - RESERVE_PCT) / self.pct_per_km
        round_trip = out + self.back_km + 0.5  # a margin for the spot at the place
        fits = (round_trip <= min(budget_km, battery_km)) & (out > 1.0)
        if hours is not None:
            fits &= round_trip / 15 + 0.25 <= hours
        candidates = np.flatnonzero(fits)
        if not candidates.size:
            return None
        # Mostly trips of 3-15 km, as a ride-hailing day has.
        weights = np.cumsum(np.where((out[candidates] >= 3) & (out[candidates] <= 15), 4.0, 1.0))
        pick = int(np.searchsorted(weights, self.rng.random() * weights[-1], side="right"))
        self.place = int(candidates[min(pick, candidates.size - 1)])
        lat, lon = places.points[self.place]
        return (
            float(lat) + self.rng.uniform(-0.001, 0.001),
            float(lon) + self.rng.uniform(-0.001, 0.001),
        )

    # -- The day -----------------------------------------------------------------------------

    def live(self) -> Generator[_Request, Any, None]:
        """The car's day. Every step returns the interrupt that cut it short, if any."""
        interrupt: _Interrupt | None = None
        if self.draw.works:
            leave = _local_hours(self.day, self.draw.leave_hour)
            opens = self.booking()
            if opens is not None:
                leave = min(leave, opens.window_start)
            interrupt = yield from self.sleep(leave)
        while self.t < self.end:
            if interrupt is not None:
                interrupt = yield from self.remote_start(interrupt)
            elif not self.draw.works:
                booking = self.booking()
                if booking is not None:  # booked on the day: it comes (it is at the depot)
                    interrupt = yield from self.toward(booking)
                elif self.car.driver_id is not None:
                    interrupt = yield from self.sleep(self.t + timedelta(hours=1))
                else:
                    interrupt = yield from self.sleep(self.end)
            elif self.km_left <= 0.05 and self.at_home():
                interrupt = yield from self.sleep(self.end)
            else:
                interrupt = yield from self.next_step()

    def next_step(self) -> _Step:
        booking = self.booking()
        if booking is not None:
            return (yield from self.toward(booking))
        morning_left = self.km_left - self.draw.evening_km
        hours = (self.end - self.t).total_seconds() / 3600 - 0.5  # home before midnight
        if not self.charged:
            if morning_left <= 0.05:
                return (yield from self.charge(None))
            place = self.next_place(morning_left, hours)
            if place is None:  # the morning's last leg home, to the morning's km
                return (yield from self.drive_home(morning_left))
            return (yield from self.trip(place))
        if self.soc - self.km_left * self.pct_per_km < RESERVE_PCT and self.soc < 95:
            return (yield from self.charge(None))  # a top-up
        place = self.next_place(self.km_left, hours)
        if place is None:
            return (yield from self.drive_home(self.km_left))
        return (yield from self.trip(place))

    def trip(self, place: Point) -> _Step:
        """Drive to a place, drop the passenger off, wait for the next one."""
        interrupt = yield from self.wait_for(self.drive(place, road_km(self.position, place)))
        if interrupt is not None:
            return interrupt
        return (yield from self.sleep(self.t + timedelta(minutes=self.rng.uniform(2, 14))))

    def drive_home(self, km: float = 0.0) -> _Step:
        """Back to the depot: `km` on the odometer, at least the road's distance."""
        road = road_km(self.position, self.home)
        if road < 0.05 and km <= 0.05:
            return None
        self.place = None
        return (yield from self.wait_for(self.drive(self.home, max(road, km))))

    def toward(self, booking: WorldBooking) -> _Step:
        """A booked window: keep driving while a trip still gets the car back in time,
        then wait at the depot for the window and charge on the booked connector."""
        hours = (booking.window_start - self.t).total_seconds() / 3600
        if hours > 0:
            place = self.next_place(self.km_left, hours)
            if place is not None:
                return (yield from self.trip(place))
        if not self.at_home():
            return (yield from self.drive_home())
        if self.t < booking.window_start:
            plug_at = booking.window_start + timedelta(minutes=self.rng.uniform(0, 6))
            return (yield from self.sleep(plug_at))
        self.used_bookings.add(booking.id)
        return (yield from self.charge(booking))

    def charge(self, booking: WorldBooking | None) -> _Step:
        """At the depot: queue for a connector, plug in, charge for the rest of the day."""
        if not self.at_home():
            return (yield from self.drive_home())
        interrupt = yield from self.sleep(self.t + timedelta(minutes=self.rng.uniform(1, 3)))
        if interrupt is not None:
            return interrupt
        granted = yield _Plug(booking)
        if isinstance(granted, _Interrupt):
            self.settle(granted.at)
            return granted
        connector_id, plugged_at = granted
        self.park(plugged_at)
        if self.draw.works:
            target = min(100.0, self.draw.end_soc + self.km_left * self.pct_per_km)
            target = max(target, min(100.0, self.soc + 5.0))
        else:
            target = 100.0  # a slot booked on a day off: a full battery
        self.charged = True
        return (yield from self.plugged_in(connector_id, target, booking, manual=False))

    def remote_start(self, interrupt: _Interrupt) -> _Step:
        """The driver started a session from the phone: they are at the depot with the car."""
        if interrupt.connector_id is None:
            return None
        self.position, self.place = self.home, None  # brought in
        self.charged = True
        return (
            yield from self.plugged_in(
                interrupt.connector_id, max(MANUAL_TARGET_PCT, self.soc), None, manual=True
            )
        )

    def plugged_in(
        self, connector_id: int, target: float, booking: WorldBooking | None, *, manual: bool
    ) -> _Step:
        connector = self.world.connectors[connector_id]
        self.sessions += 1
        session = _plan_session(
            key=f"{self.car.vin}:{self.day.isoformat()}:{self.sessions}",
            car=self.car,
            connector=connector,
            start=self.t,
            soc=self.soc,
            target=target,
            capacity_kwh=self.draw.capacity_kwh,
            battery_kw=self.world.dc_kw(self.car, connector),
            efficiency=self.battery.dc_efficiency,
            booking_id=booking.id if booking else None,
            manual=manual,
        )
        last_minute = self.end - timedelta(minutes=1)
        if session.end > last_minute:  # unplugged before the day ends
            if last_minute <= session.start:
                return None
            session = _cut_session(session, last_minute, "EVDisconnected")
        self._add(
            Segment(
                "charging",
                session.start,
                session.end,
                (self.home,),
                session.soc(session.start),
                session.soc(session.end),
                self.odometer,
                self.odometer,
                session,
            )
        )
        woken = yield _Charge(session)
        if isinstance(woken, _Interrupt) and woken.at < session.end:
            self.settle(woken.at)
            return None if woken.stop else woken
        return None

    def sleep(self, until: datetime) -> _Step:
        """Parked until `until` (or an interrupt)."""
        if not self.park(until):
            return None
        return (yield from self.wait_for(self.segments[-1]))

    def wait_for(self, segment: Segment) -> _Step:
        woken = yield _Sleep(segment.end)
        if isinstance(woken, _Interrupt) and woken.at < segment.end:
            self.settle(woken.at)
            return woken
        return None


def _plan_session(
    *,
    key: str,
    car: WorldCar,
    connector: WorldConnector,
    start: datetime,
    soc: float,
    target: float,
    capacity_kwh: float,
    battery_kw: float,
    efficiency: float,
    booking_id: int | None,
    manual: bool,
) -> PlannedSession:
    """A DC session from `soc` to `target`: full power to TAPER_FROM_PCT, half above."""
    if car.driver_id is None or car.id_tag is None:
        raise ValueError(f"car {car.vehicle_id} has no driver with a charging card")
    phases = []
    t, s, energy = start, soc, 0.0
    for limit, kw in ((TAPER_FROM_PCT, battery_kw), (target, battery_kw / 2)):
        upto = min(limit, target)
        if upto <= s:
            continue
        into_battery_kwh = (upto - s) / 100 * capacity_kwh
        metered_wh = into_battery_kwh / efficiency * 1000
        end = t + timedelta(seconds=max(1, round(into_battery_kwh / kw * 3600)))
        phases.append(ChargePhase(t, end, s, upto, energy, energy + metered_wh))
        t, s, energy = end, upto, energy + metered_wh
    if not phases:
        phases.append(ChargePhase(start, start, soc, soc, 0.0, 0.0))
    return PlannedSession(
        key=key,
        vehicle_id=car.vehicle_id,
        driver_id=car.driver_id,
        id_tag=car.id_tag,
        connector_id=connector.id,
        depot_id=connector.depot_id,
        start=start,
        end=phases[-1].end,
        phases=tuple(phases),
        efficiency=efficiency,
        capacity_kwh=capacity_kwh,
        booking_id=booking_id,
        manual=manual,
    )


def _cut_session(session: PlannedSession, at: datetime, reason: str) -> PlannedSession:
    """The session ended early at `at`."""
    phases = []
    for phase in session.phases:
        if phase.start >= at:
            break
        if phase.end > at:
            phase = ChargePhase(
                phase.start,
                at,
                phase.soc_start,
                session.soc(at),
                phase.energy_start_wh,
                session.energy_wh(at),
            )
        phases.append(phase)
    if not phases:
        soc = session.phases[0].soc_start
        phases = [ChargePhase(session.start, at, soc, soc, 0.0, 0.0)]
    return replace(session, end=at, phases=tuple(phases), stop_reason=reason)


class _DepotLoop:
    """A depot's cars through one world day, in time order, sharing its connectors."""

    def __init__(self, world: World, depot: WorldDepot, day: date) -> None:
        self.world = world
        self.depot = depot
        self.day = day
        first, last = day_start(day), day_start(day + timedelta(days=1))
        self.connectors = {
            c.id: c
            for c in sorted(world.connectors.values(), key=lambda c: (c.identity, c.evse_id))
            if c.depot_id == depot.id
        }
        cars = sorted(
            (c for c in world.cars.values() if c.depot_id == depot.id),
            key=lambda c: c.vehicle_id,
        )
        self.lives = {c.vehicle_id: _CarLife(world, c, day) for c in cars}
        self.processes = {v: life.live() for v, life in self.lives.items()}
        self.heap: list[tuple[datetime, int, int, Any]] = []
        self.seq = 0
        self.token: dict[int, int] = {}  # the one wake-up of each car that counts
        self.pending: dict[int, _Request] = {}
        self.occupied: dict[int, int] = {}  # connector → car holding or charging on it
        self.charging: dict[int, int] = {}  # car → connector
        self.queue: dict[int, datetime] = {}  # car → since when it waits for a connector
        events: list[tuple[datetime, int, StartRequest | StopRequest]] = []
        for n, start in enumerate(world.inputs.starts):
            if first <= start.at < last and start.connector_id in self.connectors:
                events.append((start.at + MANUAL_PLUG_DELAY, n, start))
        for n, stop in enumerate(world.inputs.stops):
            if first <= stop.at < last and stop.connector_id in self.connectors:
                events.append((stop.at + MANUAL_STOP_DELAY, len(events) + n, stop))
        self.events = sorted(events, key=lambda e: (e[0], e[1]))

    def schedule(self, at: datetime, vehicle_id: int, value: Any) -> None:
        self.seq += 1
        self.token[vehicle_id] = self.seq
        heapq.heappush(self.heap, (at, self.seq, vehicle_id, value))

    def run(self) -> DepotDay:
        for vehicle_id, life in self.lives.items():
            self.advance(vehicle_id, None, life.t)
        while self.heap or self.events:
            if self.events and (not self.heap or self.events[0][0] <= self.heap[0][0]):
                at, _n, event = self.events.pop(0)
                if isinstance(event, StartRequest):
                    self.remote_start(event, at)
                else:
                    self.remote_stop(event, at)
                continue
            at, seq, vehicle_id, value = heapq.heappop(self.heap)
            if self.token.get(vehicle_id) != seq:
                continue  # superseded by an earlier wake-up
            del self.token[vehicle_id]
            if value is _Plug:
                self.plug(vehicle_id, at)
                continue
            if vehicle_id in self.charging and not isinstance(value, tuple):
                self.release(self.charging.pop(vehicle_id), at)
            self.advance(vehicle_id, value, at)
        days = {}
        for vehicle_id, life in self.lives.items():
            life.park(life.end)
            days[vehicle_id] = CarDay(life.car, life.draw, life.segments)
        return DepotDay(self.depot, self.day, days)

    def advance(self, vehicle_id: int, value: Any, now: datetime) -> None:
        try:
            request = self.processes[vehicle_id].send(value)
        except StopIteration:
            self.pending.pop(vehicle_id, None)
            return
        self.pending[vehicle_id] = request
        if isinstance(request, _Sleep):
            self.schedule(request.until, vehicle_id, None)
        elif isinstance(request, _Charge):
            self.occupied[request.session.connector_id] = vehicle_id
            self.charging[vehicle_id] = request.session.connector_id
            self.schedule(request.session.end, vehicle_id, None)
        else:
            self.schedule(self.lives[vehicle_id].t, vehicle_id, _Plug)  # asks when there
        # A connector the car was given but is not charging on (a session with nothing
        # to charge) is free again.
        for connector_id, holder in list(self.occupied.items()):
            if holder == vehicle_id and self.charging.get(vehicle_id) != connector_id:
                self.release(connector_id, now)

    def reserved_for_others(self, connector_id: int, vehicle_id: int, at: datetime) -> bool:
        driver = self.world.cars[vehicle_id].driver_id
        return any(
            b.connector_id == connector_id
            and b.driver_id != driver
            and b.known_at(at)
            and b.window_start < at + BOOKING_HOLD
            and b.window_end > at
            for b in self.world.inputs.bookings
        )

    def plug(self, vehicle_id: int, at: datetime) -> None:
        """A car asks for a connector: the booked one if free, else any free one of its
        type that nobody else has booked for now; else it queues."""
        request = self.pending[vehicle_id]
        if not isinstance(request, _Plug):
            raise TypeError(f"car {vehicle_id} is not waiting for a connector")
        kind = self.world.cars[vehicle_id].connector_type
        free = [
            c.id
            for c in self.connectors.values()
            if c.connector_type == kind and c.id not in self.occupied
        ]
        booked = request.booking.connector_id if request.booking else None
        chosen = booked if booked in free else None
        if chosen is None:
            chosen = next(
                (c for c in free if not self.reserved_for_others(c, vehicle_id, at)), None
            )
        if chosen is None:
            self.queue[vehicle_id] = at
            return
        self.occupied[chosen] = vehicle_id
        self.advance(vehicle_id, (chosen, at), at)

    def release(self, connector_id: int, at: datetime) -> None:
        """A connector came free: the first car queued for its type takes it."""
        self.occupied.pop(connector_id, None)
        kind = self.connectors[connector_id].connector_type
        for _since, vehicle_id in sorted((s, v) for v, s in self.queue.items()):
            if self.world.cars[vehicle_id].connector_type != kind:
                continue
            if self.reserved_for_others(connector_id, vehicle_id, at):
                continue
            del self.queue[vehicle_id]
            self.occupied[connector_id] = vehicle_id
            self.token.pop(vehicle_id, None)
            self.advance(vehicle_id, (connector_id, at + timedelta(minutes=1)), at)
            return

    def remote_start(self, event: StartRequest, at: datetime) -> None:
        """Accepted when the connector is free, fits the car and the car is not on
        another connector."""
        car = self.world.cars_by_tag.get(event.id_tag)
        if car is None or car.vehicle_id not in self.lives:
            return
        vehicle_id = car.vehicle_id
        connector = self.connectors[event.connector_id]
        if event.connector_id in self.occupied or connector.connector_type != car.connector_type:
            return
        if vehicle_id in self.occupied.values():
            return  # charging, or plugging in, elsewhere
        self.queue.pop(vehicle_id, None)
        self.occupied[event.connector_id] = vehicle_id
        self.schedule(at, vehicle_id, _Interrupt(at, connector_id=event.connector_id))

    def remote_stop(self, event: StopRequest, at: datetime) -> None:
        """Ends the session on the connector if it is the one the stop names (the one
        that was running when the session in the database started)."""
        vehicle_id = self.occupied.get(event.connector_id)
        if vehicle_id is None or self.charging.get(vehicle_id) != event.connector_id:
            return
        life = self.lives[vehicle_id]
        session = life.segments[-1].session
        if session is None or not (
            session.start - timedelta(minutes=2) <= event.session_started < session.end
        ):
            return
        self.schedule(at, vehicle_id, _Interrupt(at, stop=True))


def _simulate_depot_day(world: World, depot: WorldDepot, day: date) -> DepotDay:
    return _DepotLoop(world, depot, day).run()


# --- From the database ----------------------------------------------------------------------


def load_inputs(session: Any, since: datetime | None = None) -> WorldInputs:
    """What the plan depends on, read from the database: the demo's depots, connectors and
    cars (with their drivers' contracts and cards), bookings, and the drivers' remote
    starts and stops since `since` (default: two days ago)."""
    from sqlalchemy import func, select

    from portal.models import (
        Booking,
        Charger,
        ChargerCommand,
        ChargerConnector,
        ChargerRegistration,
        ChargingSession,
        CommandAction,
        CommandStatus,
        Contract,
        ContractStatus,
        Depot,
        IdTag,
        Vehicle,
    )

    since = since or datetime.now(UTC) - timedelta(days=2)
    depots = tuple(
        WorldDepot(d.id, d.code, d.name, float(d.latitude), float(d.longitude))
        for d in session.scalars(
            select(Depot).where(Depot.latitude.is_not(None)).order_by(Depot.id)
        )
    )
    depot_ids = {d.id for d in depots}
    connectors = tuple(
        WorldConnector(
            id=connector.id,
            charger_id=charger.id,
            identity=charger.identity,
            evse_id=connector.evse_id,
            depot_id=charger.depot_id,
            connector_type=str(connector.connector_type),
            max_kw=float(connector.max_kw or charger.max_kw or 50),
        )
        for connector, charger in session.execute(
            select(ChargerConnector, Charger)
            .join(Charger, Charger.id == ChargerConnector.charger_id)
            .where(
                Charger.registration == ChargerRegistration.ACCEPTED,
                Charger.depot_id.in_(depot_ids),
                ChargerConnector.connector_type.is_not(None),
            )
            .order_by(ChargerConnector.id)
        )
    )
    tags: dict[int, str] = {}
    for driver_id, tag in session.execute(
        select(IdTag.driver_id, IdTag.tag).where(IdTag.active.is_(True)).order_by(IdTag.id)
    ):
        tags.setdefault(driver_id, tag)
    contracts = {
        c.vehicle_id: c
        for c in session.scalars(
            select(Contract).where(Contract.status == ContractStatus.ACTIVE).order_by(Contract.id)
        )
    }
    first_contract: dict[int, date] = dict(
        session.execute(
            select(Contract.vehicle_id, func.min(Contract.starts_on)).group_by(Contract.vehicle_id)
        ).all()
    )
    cars = []
    for vehicle in session.scalars(
        select(Vehicle).where(Vehicle.depot_id.in_(depot_ids)).order_by(Vehicle.id)
    ):
        contract = contracts.get(vehicle.id)
        cars.append(
            WorldCar(
                vehicle_id=vehicle.id,
                vin=vehicle.vin,
                imei=vehicle.tracker_imei,
                plate=vehicle.plate,
                model=f"{vehicle.make} {vehicle.model}",
                depot_id=vehicle.depot_id,
                connector_type=str(vehicle.connector_type),
                nominal_kwh=float(vehicle.battery_kwh),
                range_km=float(vehicle.range_km),
                commissioned=first_contract.get(vehicle.id, date(vehicle.year, 1, 1)),
                driver_id=contract.driver_id if contract else None,
                id_tag=tags.get(contract.driver_id) if contract else None,
                in_service_from=contract.starts_on if contract else None,
            )
        )
    bookings = tuple(
        WorldBooking(
            id=b.id,
            driver_id=b.driver_id,
            depot_id=b.depot_id,
            connector_id=b.connector_id,
            window_start=b.window_start,
            window_end=b.window_end,
            known_from=b.created_at,
            known_until=b.cancelled_at if b.cancelled_at else None,
        )
        for b in session.scalars(
            select(Booking).where(Booking.window_end >= since).order_by(Booking.id)
        )
    )
    connector_by_evse = {(c.charger_id, c.evse_id): c.id for c in connectors}
    starts, stops = [], []
    commands = session.execute(
        select(ChargerCommand)
        .where(
            ChargerCommand.action.in_((CommandAction.REMOTE_START, CommandAction.REMOTE_STOP)),
            ChargerCommand.status.not_in((CommandStatus.FAILED, CommandStatus.REJECTED)),
            ChargerCommand.requested_at >= since,
        )
        .order_by(ChargerCommand.requested_at, ChargerCommand.id)
    ).scalars()
    for command in commands:
        params = command.params or {}
        if command.action == CommandAction.REMOTE_START:
            connector_id = connector_by_evse.get(
                (command.charger_id, int(params.get("evse_id") or 0))
            )
            if connector_id is not None and params.get("id_tag"):
                starts.append(StartRequest(command.requested_at, params["id_tag"], connector_id))
        else:
            stopped = session.get(ChargingSession, params.get("session_id"))
            if stopped is not None and stopped.connector_id is not None:
                stops.append(
                    StopRequest(command.requested_at, stopped.connector_id, stopped.started_at)
                )
    return WorldInputs(
        depots=depots,
        connectors=connectors,
        cars=tuple(cars),
        bookings=bookings,
        starts=tuple(starts),
        stops=tuple(stops),
    )


def load_world(session: Any, seed: int = WORLD_SEED, since: datetime | None = None) -> World:
    return World(load_inputs(session, since), seed)


class LiveWorld:
    """The world as the database has it now: inputs read again every `refresh` seconds
    (new bookings, remote starts and stops), the plan rebuilt only when they changed.
    What happened before a change stays as it was (see the module's docstring)."""

    def __init__(
        self,
        load: Callable[[], WorldInputs],
        seed: int = WORLD_SEED,
        refresh: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = _monotonic,
        inputs: WorldInputs | None = None,
    ) -> None:
        self.load = load
        self.seed = seed
        self.refresh = refresh
        self.monotonic = monotonic
        self.loaded_at = monotonic()
        self.world = World(inputs if inputs is not None else load(), seed)

    def get(self) -> World:
        if self.monotonic() - self.loaded_at >= self.refresh:
            self.reload()
        return self.world

    def reload(self) -> World:
        """Read the inputs now (a simulator that just received a remote command)."""
        return self.use(self.load())

    def use(self, inputs: WorldInputs) -> World:
        """Inputs just read: the plan is rebuilt if they changed."""
        self.loaded_at = self.monotonic()
        if inputs != self.world.inputs:
            self.world = World(inputs, self.seed)
        return self.world


def database_loader(database_url: str) -> Callable[[], WorldInputs]:
    """Read the world's inputs from a database (for the simulators' processes). Each read
    opens its own connection and closes it (no pool left behind between reads)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session as OrmSession
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)

    def load() -> WorldInputs:
        with OrmSession(engine) as session:
            return load_inputs(session)

    return load


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m portal.demo.world [--at ISO-8601]`: the simulation's truth about every
    demo car's battery (its fade rate, capacity and state of health at that moment; now
    by default), as CSV on stdout, to check battery-health estimates against."""
    parser = argparse.ArgumentParser(prog="python -m portal.demo.world", description=main.__doc__)
    parser.add_argument("--at", type=datetime.fromisoformat, default=None)
    args = parser.parse_args(argv)
    at = args.at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    from portal.config import load_config

    world = World(database_loader(load_config()["DATABASE_URL"])())
    write_truth_csv(world, at, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
