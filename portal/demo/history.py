"""The demo's history: what the demo world (`portal.demo.world`) says happened over the
weeks of the demo ledger, written where the live system writes it, so the dashboard,
the vehicle pages, the ledger and the charging screens tell one story.

- **Charges** (`past_charges`): every charge the world has a car make at its depot, from
  the ledger's first week to now. The last TELEMETRY_DAYS days (and today) are the
  world's simulated days, so they match the telemetry to the second; the older weeks
  are the days' anchored charges (`World.anchored_sessions`: the same energy, estimated
  times). The ledger bills each at the depot's price (`portal.demo.ledger`); here each
  becomes a completed `charging_sessions` row as the CSMS would store it, linked to its
  ledger entry, with the meter values its charger would have sent (`_meter_rows`, COPYed: the
  energy register, power and state of charge at its start, at every quarter hour and
  at its end), which the energy bill and the month's peaks read. A car's charge that
  the live chargers recorded (the simulators ran then) is left to them.
- **Kilometres** (`vehicle_daily_km`): each car's km per local day, which the world knows
  in closed form (the odometer adds up), from the later of its contract's start and the
  ledger's first day to yesterday.
- **Telemetry** of the last TELEMETRY_DAYS days: every car's readings as its tracker
  would have sent them — every 30-60 s while driving, every 2-5 min while charging,
  every 15-30 min while parked, and one at each change — loaded with COPY through the
  listener's own storage (`telemetry.store.store_rows`), from each car's last stored
  reading on (so seeding again adds only what is missing); then the trips and charging
  episodes derived from them with the rollup's own code.

Deterministic (the world's seed) and idempotent: sessions, km rows and readings that
exist are kept; running it again adds only what time has added since.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from charging.store import ENERGY, POWER, SAMPLE_COLUMNS
from portal.demo.world import (
    PlannedSession,
    Segment,
    World,
    WorldCar,
    day_start,
    point_along,
    world_day,
)
from portal.models import (
    ChargingSession,
    Contract,
    ContractStatus,
    LedgerEntry,
    MeterValue,
    SessionStatus,
    TelemetryReading,
    VehicleDailyKm,
)
from portal.services.charging.prices import energy_cost_cents, energy_price_on
from portal.services.telemetry_rollups import reading_point, replace_activity
from portal.timeutil import local_date, monday_of
from telemetry.simulate import TRACKER_IO
from telemetry.store import copy_new_rows

TELEMETRY_DAYS = 7
DRIVING_EVERY = (30.0, 60.0)  # seconds between a moving car's readings
CHARGING_EVERY = (120.0, 300.0)
PARKED_EVERY = (15 * 60.0, 30 * 60.0)
COPY_BATCH = 50_000
LIVE = "world-"
"""The transaction id prefix of the history's sessions (the CSMS's are numbers or uuids)."""


@dataclass(frozen=True, slots=True)
class PastCharge:
    """A charge the world says happened, billed as the CSMS bills a session."""

    session: PlannedSession
    contract_id: int
    week: date  # the Monday of its local week
    energy_wh: int
    price_per_kwh_cents: int
    cost_cents: int
    charger: str  # its OCPP identity

    @property
    def ledger_key(self) -> str:
        return f"demo:energy:{self.session.key}"

    def ledger_row(self) -> dict[str, Any]:
        """The ledger entry, worded as the CSMS words a session's energy."""
        return {
            "driver_id": self.session.driver_id,
            "contract_id": self.contract_id,
            "amount_cents": self.cost_cents,
            "posted_at": self.session.end,
            "description": f"Carga {self.energy_wh / 1000:.3f} kWh, {self.charger}",
            "source_type": "demo",
            "source_id": self.session.key[:64],
            "idempotency_key": self.ledger_key,
        }


def past_charges(session: Session, world: World, first: date, now: datetime) -> list[PastCharge]:
    """Every charge the world has made from `first` to `now` (ended by then), except those
    of a car whose charge the live chargers recorded at the same time."""
    detailed_from = world_day(now) - timedelta(days=TELEMETRY_DAYS)
    planned: list[PlannedSession] = []
    day = first
    while day <= world_day(now):
        for depot_id in sorted(world.depots):
            if day >= detailed_from:
                planned += world.depot_day(depot_id, day).sessions
            else:
                planned += world.anchored_sessions(depot_id, day)
        day += timedelta(days=1)
    recorded: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for vehicle_id, started, stopped in session.execute(
        select(
            ChargingSession.vehicle_id, ChargingSession.started_at, ChargingSession.stopped_at
        ).where(
            ChargingSession.vehicle_id.is_not(None),
            ChargingSession.started_at >= day_start(first) - timedelta(days=1),
            ChargingSession.transaction_id.not_like(f"{LIVE}%"),
        )
    ):
        if vehicle_id is not None:
            recorded[vehicle_id].append((started, stopped or now))
    contracts = dict(
        session.execute(
            select(Contract.vehicle_id, Contract.id).where(Contract.status == ContractStatus.ACTIVE)
        ).all()
    )
    prices: dict[tuple[int, date], int | None] = {}
    charges: list[PastCharge] = []
    for s in sorted(planned, key=lambda s: (s.end, s.connector_id)):
        if s.end > now or s.vehicle_id not in contracts:
            continue
        if any(a < s.end and s.start < b for a, b in recorded.get(s.vehicle_id, ())):
            continue
        stopped_on = local_date(s.end)
        key = (s.depot_id, stopped_on)
        if key not in prices:
            prices[key] = energy_price_on(session, s.depot_id, stopped_on)
        price = prices[key]
        energy_wh = round(s.energy_total_wh)
        if price is None or energy_wh <= 0:
            continue
        charges.append(
            PastCharge(
                session=s,
                contract_id=contracts[s.vehicle_id],
                week=monday_of(stopped_on),
                energy_wh=energy_wh,
                price_per_kwh_cents=price,
                cost_cents=energy_cost_cents(energy_wh, price),
                charger=world.connectors[s.connector_id].identity,
            )
        )
    return charges


def resume_day(session: Session, first: date) -> date:
    """Where a seed goes on from: the day of the newest charge an earlier seed stored
    (the days before are stored already), else `first`."""
    newest = session.scalar(
        select(func.max(ChargingSession.stopped_at)).where(
            ChargingSession.transaction_id.like(f"{LIVE}%")
        )
    )
    return max(first, world_day(newest)) if newest is not None else first


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    km_rows: int
    sessions: int
    readings: int = 0
    trips: int = 0


def seed_activity_history(
    session: Session,
    world: World,
    charges: Sequence[PastCharge],
    first: date,
    now: datetime,
    telemetry_days: int = TELEMETRY_DAYS,
) -> ActivitySummary:
    """Add what is missing of the history's km, charging sessions and the last
    `telemetry_days` days of telemetry. Flushes (and COPYs) only."""
    km_rows = _seed_daily_km(session, world, first, world_day(now) - timedelta(days=1))
    sessions = _seed_sessions(session, world, charges)
    readings, trips = _seed_telemetry(session, world, now, telemetry_days)
    return ActivitySummary(km_rows=km_rows, sessions=sessions, readings=readings, trips=trips)


# --- Kilometres -----------------------------------------------------------------------------


def _seed_daily_km(session: Session, world: World, first: date, last: date) -> int:
    """Each car under contract, each day from its contract's start (or after the newest
    day stored): its km and odometer."""
    newest = dict(
        session.execute(
            select(VehicleDailyKm.vehicle_id, func.max(VehicleDailyKm.day)).group_by(
                VehicleDailyKm.vehicle_id
            )
        ).all()
    )
    rows = []
    for car in sorted(world.cars.values(), key=lambda c: c.vehicle_id):
        if car.in_service_from is None or car.id_tag is None:
            continue
        day = max(first, car.in_service_from)
        if car.vehicle_id in newest:
            day = max(day, newest[car.vehicle_id] + timedelta(days=1))
        while day <= last:
            draw, after = world.draw(car, day), world.draw(car, day + timedelta(days=1))
            rows.append(
                {
                    "vehicle_id": car.vehicle_id,
                    "day": day,
                    "km": round(draw.km, 1),
                    "first_odometer_m": round(draw.start_odometer_m),
                    "last_odometer_m": round(after.start_odometer_m),
                }
            )
            day += timedelta(days=1)
    if not rows:
        return 0
    statement = text(
        "INSERT INTO vehicle_daily_km (vehicle_id, day, km, first_odometer_m, last_odometer_m) "
        "SELECT * FROM unnest(CAST(:v AS int[]), CAST(:d AS date[]), CAST(:k AS numeric[]), "
        "CAST(:f AS bigint[]), CAST(:l AS bigint[])) ON CONFLICT DO NOTHING"
    )
    result = session.execute(
        statement,
        {
            "v": [r["vehicle_id"] for r in rows],
            "d": [r["day"] for r in rows],
            "k": [r["km"] for r in rows],
            "f": [r["first_odometer_m"] for r in rows],
            "l": [r["last_odometer_m"] for r in rows],
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- Charging sessions ----------------------------------------------------------------------


def _seed_sessions(session: Session, world: World, charges: Sequence[PastCharge]) -> int:
    """Each charge as the CSMS stores a completed session, linked to its ledger entry."""
    if not charges:
        return 0
    existing = set(
        session.scalars(
            select(ChargingSession.transaction_id).where(
                ChargingSession.transaction_id.like(f"{LIVE}%")
            )
        )
    )
    entries = dict(
        session.execute(
            select(LedgerEntry.idempotency_key, LedgerEntry.id).where(
                LedgerEntry.idempotency_key.in_([c.ledger_key for c in charges])
            )
        ).all()
    )
    registers: dict[int | None, int] = {
        connector_id: int(total or 0)
        for connector_id, total in session.execute(
            select(ChargingSession.connector_id, func.max(ChargingSession.meter_stop_wh))
            .where(ChargingSession.transaction_id.like(f"{LIVE}%"))
            .group_by(ChargingSession.connector_id)
        )
    }
    rows = []
    meter_starts = {}
    for charge in charges:
        s = charge.session
        transaction_id = f"{LIVE}{s.key}"
        if transaction_id in existing:
            continue
        connector = world.connectors[s.connector_id]
        start_wh = registers.get(s.connector_id) or 1_000_000 + s.connector_id * 100_000
        registers[s.connector_id] = start_wh + charge.energy_wh
        meter_starts[transaction_id] = (charge, start_wh)
        rows.append(
            {
                "charger_id": connector.charger_id,
                "connector_id": connector.id,
                "evse_id": connector.evse_id,
                "transaction_id": transaction_id,
                "id_tag": s.id_tag,
                "driver_id": s.driver_id,
                "vehicle_id": s.vehicle_id,
                "contract_id": charge.contract_id,
                "status": SessionStatus.COMPLETED,
                "started_at": s.start,
                "stopped_at": s.end,
                "meter_start_wh": start_wh,
                "meter_stop_wh": start_wh + charge.energy_wh,
                "energy_wh": charge.energy_wh,
                "stop_reason": s.stop_reason,
                "last_meter_wh": start_wh + charge.energy_wh,
                "last_power_kw": round(s.phases[-1].power_kw, 1),
                "last_soc": round(s.soc(s.end)),
                "last_meter_at": s.end,
                "price_per_kwh_cents": charge.price_per_kwh_cents,
                "cost_cents": charge.cost_cents,
                "ledger_entry_id": entries.get(charge.ledger_key),
                "created_at": s.end,
            }
        )
    if not rows:
        return 0
    stored = session.execute(
        insert(ChargingSession)
        .returning(ChargingSession.id, ChargingSession.transaction_id)
        .execution_options(sort_by_parameter_order=True),
        rows,
    ).all()
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        f"COPY {MeterValue.__tablename__} ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN"
    ) as copy:
        for session_id, transaction_id in stored:  # new sessions: their samples are new
            for row in _meter_rows(world, session_id, *meter_starts[transaction_id]):
                copy.write_row(row)
    return len(rows)


METER_EVERY = timedelta(minutes=15)


def _meter_rows(
    world: World, session_id: int, charge: PastCharge, start_wh: int
) -> Iterator[tuple[Any, ...]]:
    """The meter values a charger sends for the charge: at its start (Transaction.Begin),
    at each quarter hour while it charges, and at its end (Transaction.End); the register
    adds up to exactly the session's energy."""
    s = charge.session
    connector = world.connectors[s.connector_id]
    first = datetime.fromtimestamp(
        math.floor(s.start.timestamp() / METER_EVERY.total_seconds() + 1)
        * METER_EVERY.total_seconds(),
        tz=s.start.tzinfo,
    )
    marks = [(s.start, "Transaction.Begin")]
    at = first
    while at < s.end:
        marks.append((at, "Sample.Periodic"))
        at += METER_EVERY
    marks.append((s.end, "Transaction.End"))
    for at, context in marks:
        register = start_wh + charge.energy_wh if at == s.end else start_wh + round(s.energy_wh(at))
        samples = [(ENERGY, "Wh", float(register)), ("SoC", "Percent", round(s.soc(at), 1))]
        if context == "Sample.Periodic":
            samples.append((POWER, "W", round(s.power_kw(at) * 1000.0)))
        for measurand, unit, value in samples:
            yield (
                connector.charger_id,
                connector.evse_id,
                session_id,
                at,
                measurand,
                "",
                unit,
                context,
                None,  # location
                value,
            )


# --- Telemetry ------------------------------------------------------------------------------


def _seed_telemetry(session: Session, world: World, now: datetime, days: int) -> tuple[int, int]:
    """The last `days` days of every tracker (none when 0), from its last stored reading
    on; then the trips and charging episodes of what was added. (readings, trips)"""
    if days <= 0:
        return 0, 0
    since = day_start(world_day(now) - timedelta(days=days))
    last_stored = dict(
        session.execute(
            select(TelemetryReading.imei, func.max(TelemetryReading.device_time))
            .where(TelemetryReading.device_time >= since)
            .group_by(TelemetryReading.imei)
        ).all()
    )
    depots = [(d.id, d.latitude, d.longitude) for d in world.depots.values()]
    readings = trips = 0
    batch: list[tuple[Any, ...]] = []
    activity: list[tuple[int, datetime, list[Any]]] = []
    for car in sorted(world.cars.values(), key=lambda c: c.vehicle_id):
        if not car.imei:
            continue
        start = max(since, last_stored.get(car.imei, since) + timedelta(seconds=1))
        if start >= now:
            continue
        rows = list(_tracker_rows(world, car, start, now))
        if not rows:
            continue
        batch += rows
        activity.append((car.vehicle_id, start, [reading_point(row) for row in rows]))
        if len(batch) >= COPY_BATCH:
            readings += copy_new_rows(session, batch)
            batch = []
    if batch:
        readings += copy_new_rows(session, batch)
    for vehicle_id, start, points in activity:  # by the rollup's own rules
        trips += replace_activity(session, vehicle_id, start, points, depots, now)[0]
    session.flush()
    return readings, trips


def _tracker_rows(
    world: World, car: WorldCar, start: datetime, now: datetime
) -> Iterator[tuple[Any, ...]]:
    """The car's readings in [start, now), in the listener's row format."""
    day = world_day(start)
    vin = zlib.crc32(car.vin.encode())
    while day <= world_day(now):
        for n, segment in enumerate(world.car_day(car.vehicle_id, day).segments):
            if segment.start >= now:
                break
            if segment.end > start:
                # A stream per segment: its readings are the same whatever part of the
                # day a seed adds (a seed goes on from the last stored reading).
                rng = np.random.default_rng([world.seed, vin, day.toordinal(), n])
                yield from _segment_rows(car, segment, max(start, segment.start), now, rng)
        day += timedelta(days=1)


def _segment_rows(
    car: WorldCar, segment: Segment, start: datetime, now: datetime, rng: np.random.Generator
) -> Iterator[tuple[Any, ...]]:
    """The segment's readings from `start`: one at its start (a change: ignition on or
    off, plugged in or out), then one every DRIVING_EVERY / CHARGING_EVERY / PARKED_EVERY.
    Computed a segment at a time (numpy): the history has some 80,000 readings a day."""
    driving = segment.kind == "driving"
    plugged = segment.session is not None
    low, high = DRIVING_EVERY if driving else CHARGING_EVERY if plugged else PARKED_EVERY
    span = (segment.end - segment.start).total_seconds() or 1.0
    first = (start - segment.start).total_seconds()
    last = (min(segment.end, now) - segment.start).total_seconds()
    # The readings' times run from the segment's start, so a seed that goes on from a
    # tracker's last stored reading keeps the same schedule.
    steps = rng.uniform(low, high, int(last / low) + 2)
    offsets = np.concatenate(([0.0], np.cumsum(steps)))
    offsets = offsets[(offsets >= first) & (offsets < last)]
    if not offsets.size:
        return
    if not driving:
        yield from _stationary_rows(car, segment, offsets.tolist(), rng)
        return
    n = len(offsets)
    f = offsets / span
    latitude, longitude, heading = _positions(segment.path, f)
    if driving:
        hours = span / 3600
        average = (segment.odometer_end_m - segment.odometer_start_m) / 1000 / hours
        speed = np.minimum(90, np.round(average * rng.uniform(0.6, 1.4, n))).astype(int)
        speed[rng.random(n) < 0.08] = 0  # now and then a red light
    else:
        speed = np.zeros(n, dtype=int)
    if segment.session is not None:
        times = [(p.start - segment.start).total_seconds() for p in segment.session.phases]
        ends = [(p.end - segment.start).total_seconds() for p in segment.session.phases]
        socs = [segment.session.phases[0].soc_start] + [p.soc_end for p in segment.session.phases]
        soc = np.interp(offsets, [times[0], *ends], socs)
    else:
        soc = segment.soc_start + (segment.soc_end - segment.soc_start) * f
    odometer = np.round(
        segment.odometer_start_m + (segment.odometer_end_m - segment.odometer_start_m) * f
    ).astype(np.int64)
    soc_pct = np.round(soc).astype(int)
    range_m = np.round(car.range_km * 10 * soc).astype(int)
    moving = speed > 0
    on = int(driving)
    # The values in TRACKER_IO's order (telemetry.simulate.tracker_io, the live tracker's).
    io = [
        _IO_JSON % values
        for values in zip(
            itertools.repeat(on),  # 239 ignition
            moving.astype(int).tolist(),  # 240 movement
            rng.integers(2, 6, n).tolist(),  # 21 GSM signal
            _external_voltage(rng, n, driving or plugged).tolist(),  # 66
            rng.integers(3_950, 4_151, n).tolist(),  # 67 battery voltage
            odometer.tolist(),  # 16 GNSS odometer
            odometer.tolist(),  # 87 CAN odometer
            soc_pct.tolist(),  # 152 state of charge
            range_m.tolist(),  # 304 range
            itertools.repeat(int(plugged)),  # 914 plugged in
            itertools.repeat(int(plugged)),  # 915 charging
            (moving & driving).astype(int).tolist(),  # 916 driving
            strict=False,
        )
    ]
    base = segment.start.replace(microsecond=segment.start.microsecond // 1000 * 1000)
    moments = [base + timedelta(milliseconds=ms) for ms in np.round(offsets * 1000).tolist()]
    delays = rng.integers(500, 3_000, n).tolist()
    yield from zip(
        itertools.repeat(car.imei),
        moments,
        [m + timedelta(milliseconds=d) for m, d in zip(moments, delays, strict=True)],
        latitude.tolist(),
        longitude.tolist(),
        (2240 + rng.integers(0, 41, n)).tolist(),
        (heading * moving).tolist(),
        rng.integers(7, 17, n).tolist(),
        speed.tolist(),
        itertools.repeat(True),
        itertools.repeat(driving),
        moving.tolist(),
        odometer.tolist(),
        soc_pct.tolist(),
        range_m.tolist(),
        itertools.repeat(plugged),
        itertools.repeat(plugged),
        io,
        strict=False,
    )


def _stationary_rows(
    car: WorldCar, segment: Segment, offsets: list[float], rng: np.random.Generator
) -> Iterator[tuple[Any, ...]]:
    """A parked or plugged-in car's readings (a few per segment: no arrays needed)."""
    latitude, longitude = (round(x, 7) for x in segment.path[-1])
    odometer = round(segment.odometer_start_m)
    plugged = segment.session is not None
    base = segment.start.replace(microsecond=segment.start.microsecond // 1000 * 1000)
    draws = rng.random((len(offsets), 6)).tolist()
    for offset, (gsm, volts, battery, altitude, satellites, delay) in zip(
        offsets, draws, strict=True
    ):
        at = base + timedelta(milliseconds=round(offset * 1000))
        soc = segment.session.soc(at) if segment.session is not None else segment.soc_start
        soc_pct = round(soc)
        range_m = round(car.range_km * 10 * soc)
        # The values in TRACKER_IO's order (telemetry.simulate.tracker_io, the live tracker's).
        io = _IO_JSON % (
            0,  # 239 ignition
            0,  # 240 movement
            2 + int(4 * gsm),  # 21 GSM signal
            12_600 + int(1_601 * volts) if plugged else 12_300,  # 66 external voltage
            3_950 + int(201 * battery),  # 67 battery voltage
            odometer,  # 16 GNSS odometer
            odometer,  # 87 CAN odometer
            soc_pct,  # 152 state of charge
            range_m,  # 304 range
            int(plugged),  # 914 plugged in
            int(plugged),  # 915 charging
            0,  # 916 driving
        )
        yield (
            car.imei,
            at,
            at + timedelta(milliseconds=500 + int(2_500 * delay)),
            latitude,
            longitude,
            2240 + int(41 * altitude),
            0,
            7 + int(10 * satellites),
            0,
            True,
            False,
            False,
            odometer,
            soc_pct,
            range_m,
            plugged,
            plugged,
            io,
        )


def _positions(
    path: Sequence[tuple[float, float]], f: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude, longitude (7 decimals, the tracker's grid) and heading at fractions `f`
    of the way along a path (see `point_along`)."""
    if len(path) == 1:
        n = len(f)
        return np.full(n, round(path[0][0], 7)), np.full(n, round(path[0][1], 7)), np.zeros(n, int)
    pieces = list(itertools.pairwise(path))
    lengths = np.array(
        [math.hypot(b[0] - a[0], (b[1] - a[1]) * math.cos(math.radians(a[0]))) for a, b in pieces]
    )
    bounds = np.concatenate(([0.0], np.cumsum(lengths)))
    goal = np.clip(f, 0.0, 1.0) * bounds[-1]
    piece = np.clip(np.searchsorted(bounds, goal, side="right") - 1, 0, len(pieces) - 1)
    starts = np.array([a for a, _b in pieces])
    ends = np.array([b for _a, b in pieces])
    within = np.where(
        lengths[piece] > 0,
        (goal - bounds[piece]) / np.where(lengths[piece] > 0, lengths[piece], 1),
        1.0,
    )
    within = np.clip(within, 0.0, 1.0)
    points = starts[piece] + (ends[piece] - starts[piece]) * within[:, None]
    headings = np.array([point_along((a, b), 1.0)[1] for a, b in pieces])
    return np.round(points[:, 0], 7), np.round(points[:, 1], 7), headings[piece]


def _external_voltage(rng: np.random.Generator, n: int, running: bool) -> np.ndarray:
    """The car's 12 V system: charged while it runs or charges, resting otherwise."""
    return rng.integers(12_600, 14_201, n) if running else np.full(n, 12_300)


_IO_JSON = "{" + ",".join(f'"{io_id}":%d' for io_id in TRACKER_IO) + "}"


def history_start(today: date, weeks: int) -> date:
    """The first day of the history: the ledger's first Monday."""
    return monday_of(today) - timedelta(weeks=weeks)


def seed_time(today: date) -> datetime:
    """When the history ends: now, or noon of `today` when seeding another day (tests)."""
    from portal.db import utcnow
    from portal.timeutil import local_midnight, local_today

    if today == local_today():
        return utcnow()
    return local_midnight(today) + timedelta(hours=12)
