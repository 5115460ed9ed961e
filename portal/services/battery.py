"""Battery health: each completed charging session joined to the car plugged in, and
the reads of each car's estimate (`telemetry.battery.store` runs the estimator).

`refresh_battery_sessions` writes one `battery_sessions` row per completed session:

- the car, tried in this order: the booking the session started on; the car of the
  contract that the card's (id tag's) driver held that day (the charger's own record,
  `charging_sessions.vehicle_id`, resolved the same way when the session started); the
  only car whose tracker saw it charging (or plugged in) at the charger's depot during
  the session (`vehicle_charging_episodes`). `tracker_confirmed` says whether the
  tracker agrees with a booking or a card;
- the tracker's state of charge at the start (the last reading at or before it) and at
  the end (the first reading at or after it), looked for up to `SEARCH_WINDOW` away,
  and the odometer and battery temperature (IO 151) of the start reading;
- the charger type: DC when the connector (else the charger) is rated above
  `AC_MAX_KW` or the session's average power was above it, AC when rated at or under it;
- the metered energy.

It recomputes the sessions that ended since a time (all of them by default) and
replaces their rows, so it is idempotent and picks up late telemetry. Services flush;
the caller commits.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    LIVE_CONTRACT_STATUSES,
    BatteryEstimate,
    BatterySession,
    Booking,
    Charger,
    ChargerConnector,
    ChargingEpisode,
    ChargingSession,
    Contract,
    ContractStatus,
    Depot,
    IdTag,
    SessionStatus,
    Vehicle,
    VehicleMatch,
)

AC_MAX_KW = Decimal("22")
"""Above this a charger (or a session's average power) is DC: AC stops at 22 kW."""
SEARCH_WINDOW = timedelta(hours=12)
"""How far before the start and after the end a state-of-charge reading is looked for."""
READING_WINDOW = timedelta(minutes=60)
"""A row is usable only with both readings this close to the session: a tracker
parked with its ignition off reports every few minutes to an hour."""
LOCAL = ZoneInfo("America/Mexico_City")
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class _Term:
    vehicle_id: int
    starts_on: date
    ended_on: date | None


@dataclass(frozen=True, slots=True)
class _Episode:
    vehicle_id: int
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Reading:
    at: datetime
    soc_pct: int
    odometer_m: int | None
    battery_temp_c: Decimal | None


_READINGS_AROUND = text(
    """
    SELECT k.session_id,
           b.device_time, b.soc_pct, b.odometer_m, b.temp_decidegrees,
           a.device_time, a.soc_pct, a.odometer_m, a.temp_decidegrees
    FROM unnest(CAST(:ids AS integer[]), CAST(:imeis AS varchar[]),
                CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
         AS k(session_id, imei, started_at, ended_at)
    LEFT JOIN LATERAL (
        SELECT r.device_time, r.soc_pct, r.odometer_m, r.io ->> '151' AS temp_decidegrees
        FROM telemetry_readings AS r
        WHERE r.imei = k.imei AND r.soc_pct IS NOT NULL
          AND r.device_time <= k.started_at AND r.device_time >= k.started_at - :search
        ORDER BY r.device_time DESC
        LIMIT 1
    ) AS b ON true
    LEFT JOIN LATERAL (
        SELECT r.device_time, r.soc_pct, r.odometer_m, r.io ->> '151' AS temp_decidegrees
        FROM telemetry_readings AS r
        WHERE r.imei = k.imei AND r.soc_pct IS NOT NULL
          AND r.device_time >= k.ended_at AND r.device_time <= k.ended_at + :search
        ORDER BY r.device_time
        LIMIT 1
    ) AS a ON true
    """
)


def _degrees(decidegrees: str | None) -> Decimal | None:
    """IO 151 as stored (a signed count of 0.1 °C) in °C; None when absent, not a number
    or not a battery's temperature (outside -40..90 °C)."""
    if decidegrees is None or not decidegrees.lstrip("-").isdigit():
        return None
    degrees = Decimal(decidegrees) / 10
    return degrees if -40 <= degrees <= 90 else None


def _readings_around(
    session: Session, keys: Sequence[tuple[int, str, datetime, datetime]]
) -> dict[int, tuple[_Reading | None, _Reading | None]]:
    """For each (session id, IMEI, start, end): the last reading with a state of charge
    at or before the start and the first at or after the end."""
    found: dict[int, tuple[_Reading | None, _Reading | None]] = {}
    for offset in range(0, len(keys), _BATCH):
        batch = keys[offset : offset + _BATCH]
        rows = session.execute(
            _READINGS_AROUND,
            {
                "ids": [k[0] for k in batch],
                "imeis": [k[1] for k in batch],
                "starts": [k[2] for k in batch],
                "ends": [k[3] for k in batch],
                "search": SEARCH_WINDOW,
            },
        )
        for sid, b_at, b_soc, b_odo, b_temp, a_at, a_soc, a_odo, a_temp in rows:
            found[sid] = (
                None if b_at is None else _Reading(b_at, b_soc, b_odo, _degrees(b_temp)),
                None if a_at is None else _Reading(a_at, a_soc, a_odo, _degrees(a_temp)),
            )
    return found


def charger_type(rated_kw: Decimal | None, energy_wh: int, seconds: float) -> str | None:
    """AC or DC from the connector's (or charger's) rating and the average power."""
    average_kw = Decimal(energy_wh) / 1000 / Decimal(seconds / 3600) if seconds > 0 else None
    if (rated_kw is not None and rated_kw > AC_MAX_KW) or (
        average_kw is not None and average_kw > AC_MAX_KW
    ):
        return "DC"
    return "AC" if rated_kw is not None else None


def _contract_vehicles(session: Session, tags: Iterable[str]) -> dict[str, list[_Term]]:
    """Per id tag: the contracts its driver ever signed (vehicle, first and last day)."""
    rows = session.execute(
        select(IdTag.tag, Contract.vehicle_id, Contract.starts_on, Contract.ended_on)
        .join(Contract, Contract.driver_id == IdTag.driver_id)
        .where(IdTag.tag.in_(set(tags)), Contract.status != ContractStatus.DRAFT)
    )
    by_tag: dict[str, list[_Term]] = defaultdict(list)
    for tag, vehicle_id, starts_on, ended_on in rows:
        by_tag[tag].append(_Term(vehicle_id, starts_on, ended_on))
    return by_tag


def _contract_on(terms: list[_Term], at: datetime) -> int | None:
    """The vehicle of the contract that covered the local day of `at`, if any."""
    day = at.astimezone(LOCAL).date()
    covering = [
        t for t in terms if t.starts_on <= day and (t.ended_on is None or t.ended_on >= day)
    ]
    return max(covering, key=lambda t: t.starts_on).vehicle_id if covering else None


def _charging_seen(
    session: Session, depot_ids: set[int], since: datetime, until: datetime
) -> dict[int, list[_Episode]]:
    """Per depot: the charging episodes its cars' trackers showed there in a period."""
    if not depot_ids:
        return {}
    e = ChargingEpisode
    rows = session.execute(
        select(e.depot_id, e.vehicle_id, e.started_at, e.ended_at).where(
            e.depot_id.in_(depot_ids),
            e.started_at <= until,
            or_(e.ended_at.is_(None), e.ended_at >= since),
        )
    )
    by_depot: dict[int, list[_Episode]] = defaultdict(list)
    for depot_id, vehicle_id, started_at, ended_at in rows:
        if depot_id is not None:
            by_depot[depot_id].append(_Episode(vehicle_id, started_at, ended_at))
    return by_depot


def _completed_sessions(session: Session, since: datetime | None) -> list[Row[Any]]:
    cs = ChargingSession
    query = (
        select(
            cs.id.label("session_id"),
            cs.charger_id,
            Charger.depot_id,
            cs.started_at,
            cs.stopped_at,
            cs.energy_wh,
            cs.id_tag,
            cs.vehicle_id.label("tag_vehicle_id"),
            func.coalesce(ChargerConnector.max_kw, Charger.max_kw).label("rated_kw"),
            Booking.vehicle_id.label("booked_vehicle_id"),
        )
        .join(Charger, Charger.id == cs.charger_id)
        .outerjoin(ChargerConnector, ChargerConnector.id == cs.connector_id)
        .outerjoin(Booking, Booking.session_id == cs.id)
        .where(cs.status == SessionStatus.COMPLETED, cs.energy_wh.is_not(None))
        .order_by(cs.id)
    )
    if since is not None:
        query = query.where(cs.stopped_at >= since)
    unique: dict[int, Any] = {}
    for row in session.execute(query).all():
        unique.setdefault(row.session_id, row)  # one booking per session is enough
    return list(unique.values())


def _match(
    row: Row[Any], terms: dict[str, list[_Term]], seen: set[int]
) -> tuple[int | None, VehicleMatch]:
    """The car of a session and how it was found (see the module's docstring)."""
    if row.booked_vehicle_id is not None:
        return row.booked_vehicle_id, VehicleMatch.BOOKING
    if row.tag_vehicle_id is not None:
        return row.tag_vehicle_id, VehicleMatch.ID_TAG
    if (on_the_day := _contract_on(terms.get(row.id_tag or "", []), row.started_at)) is not None:
        return on_the_day, VehicleMatch.ID_TAG
    if len(seen) == 1:
        return next(iter(seen)), VehicleMatch.TRACKER
    return None, VehicleMatch.NONE


def refresh_battery_sessions(session: Session, *, since: datetime | None = None) -> int:
    """Recompute the `battery_sessions` rows of the sessions completed since `since`
    (every completed session when None). Returns the number of rows written."""
    rows = _completed_sessions(session, since)
    if not rows:
        return 0
    terms = _contract_vehicles(session, {r.id_tag for r in rows if r.id_tag})
    episodes = _charging_seen(
        session,
        {r.depot_id for r in rows if r.depot_id is not None},
        min(r.started_at for r in rows),
        max(r.stopped_at for r in rows),
    )
    matches = []
    for row in rows:
        seen = {
            e.vehicle_id
            for e in episodes.get(row.depot_id, [])
            if e.started_at <= row.stopped_at
            and (e.ended_at is None or e.ended_at >= row.started_at)
        }
        vehicle_id, how = _match(row, terms, seen)
        matches.append((row, vehicle_id, how, None if vehicle_id is None else vehicle_id in seen))
    vehicles = {
        v.id: v
        for v in session.scalars(
            select(Vehicle).where(Vehicle.id.in_({m[1] for m in matches if m[1] is not None}))
        )
    }
    readings = _readings_around(
        session,
        [
            (row.session_id, imei, row.started_at, row.stopped_at)
            for row, vehicle_id, _how, _confirmed in matches
            if vehicle_id is not None and (imei := vehicles[vehicle_id].tracker_imei)
        ],
    )
    now = utcnow()
    values = [
        _row_values(row, vehicles.get(vehicle_id or 0), how, confirmed, readings, now)
        for row, vehicle_id, how, confirmed in matches
    ]
    for offset in range(0, len(values), _BATCH):
        statement = insert(BatterySession).values(values[offset : offset + _BATCH])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[BatterySession.session_id],
                set_={c: statement.excluded[c] for c in values[0] if c != "session_id"},
            )
        )
    session.flush()
    return len(values)


def _row_values(
    row: Row[Any],
    vehicle: Vehicle | None,
    how: VehicleMatch,
    confirmed: bool | None,
    readings: dict[int, tuple[_Reading | None, _Reading | None]],
    now: datetime,
) -> dict[str, Any]:
    before, after = readings.get(row.session_id, (None, None))
    kind = charger_type(
        row.rated_kw, row.energy_wh, (row.stopped_at - row.started_at).total_seconds()
    )
    usable = (
        vehicle is not None
        and before is not None
        and after is not None
        and row.started_at - before.at <= READING_WINDOW
        and after.at - row.stopped_at <= READING_WINDOW
        and after.soc_pct > before.soc_pct
        and row.energy_wh > 0
        and kind is not None
    )
    return {
        "session_id": row.session_id,
        "vehicle_id": vehicle.id if vehicle else None,
        "matched_by": how,
        "tracker_confirmed": confirmed,
        "charger_id": row.charger_id,
        "depot_id": row.depot_id,
        "started_at": row.started_at,
        "ended_at": row.stopped_at,
        "energy_kwh": Decimal(row.energy_wh) / 1000,
        "charger_type": kind,
        "max_kw": row.rated_kw,
        "soc_start_pct": before.soc_pct if before else None,
        "soc_start_at": before.at if before else None,
        "soc_end_pct": after.soc_pct if after else None,
        "soc_end_at": after.at if after else None,
        "odometer_km": (
            Decimal(before.odometer_m) / 1000 if before and before.odometer_m is not None else None
        ),
        "battery_temp_c": before.battery_temp_c if before else None,
        "model": f"{vehicle.make} {vehicle.model}" if vehicle else None,
        "nominal_kwh": vehicle.battery_kwh if vehicle else None,
        "usable": usable,
        "refreshed_at": now,
    }


# --- reads for the screens ------------------------------------------------------------------

DC_SHARE_BUCKETS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))
"""The fleet page's groups by share of fast (DC) charging sessions."""
WATCH_AT_LEAST = 10
"""Rows of the fleet page's cars to watch: every car with an alert, at least this many."""

_WATCH_ORDER = (
    (BatteryEstimate.low_soh | BatteryEstimate.fast_fade).desc(),
    BatteryEstimate.soh_percent.asc().nulls_last(),
    BatteryEstimate.vehicle_id,
)


def get_battery_estimate(session: Session, vehicle_id: int) -> BatteryEstimate | None:
    """A vehicle's latest estimate (for the vehicle and contract pages)."""
    return session.get(BatteryEstimate, vehicle_id)


def list_battery_estimates(session: Session) -> list[BatteryEstimate]:
    """Every vehicle's latest estimate, the cars to watch first (alerts, then lowest
    state of health)."""
    return list(session.scalars(select(BatteryEstimate).order_by(*_WATCH_ORDER)))


def fleet_fade_median(session: Session) -> float | None:
    """The fade of the fleet's typical car: the median of the cars' fade rates (the
    alerts compare a car with it), None before any car has one."""
    fade = BatteryEstimate.fade_percent_per_year
    return session.scalar(select(func.percentile_cont(0.5).within_group(fade)))


@dataclass(frozen=True, slots=True)
class VehicleBattery:
    """A car's battery on its pages: its estimate (None before its first usable
    session) beside the fleet's typical fade."""

    estimate: BatteryEstimate | None
    fleet_fade_median: float | None


def get_vehicle_battery(session: Session, vehicle_id: int) -> VehicleBattery:
    return VehicleBattery(
        estimate=get_battery_estimate(session, vehicle_id),
        fleet_fade_median=fleet_fade_median(session),
    )


DRIVERS_CAR_STATUSES = LIVE_CONTRACT_STATUSES | {ContractStatus.COMPLETED}
"""A contract's car is its driver's while the contract is live, and for good once it is
completed; not before it is signed, nor after an early termination."""


def get_contract_battery(session: Session, contract: Contract) -> VehicleBattery | None:
    """The battery of a contract's car as its driver sees it (None when the car is not
    the driver's: a draft, an early termination)."""
    if contract.status not in DRIVERS_CAR_STATUSES:
        return None
    return get_vehicle_battery(session, contract.vehicle_id)


@dataclass(frozen=True, slots=True)
class BatteryCar:
    estimate: BatteryEstimate
    plate: str
    depot: str | None


@dataclass(frozen=True, slots=True)
class FadeGroup:
    """The cars of a model, or of a share of fast charging, that have a fade rate."""

    key: str | tuple[float, float]  # the model, or the DC share bucket (from, to)
    cars: int
    fade_percent_per_year: float  # their mean
    soh_percent: float  # their mean


@dataclass(frozen=True, slots=True)
class FleetBattery:
    """The managers' battery page: every estimate, the cars to watch first."""

    cars: list[BatteryCar]
    watch: list[BatteryCar]  # those with an alert (at least WATCH_AT_LEAST cars)
    by_model: list[FadeGroup]
    by_dc_share: list[FadeGroup]  # one per DC_SHARE_BUCKETS, empty ones included
    fleet_fade_percent_per_year: float | None  # the mean, as the estimator reports it
    fleet_fade_median: float | None
    estimated_at: datetime | None
    as_of: datetime | None  # the latest session any estimate used

    @property
    def measured(self) -> list[BatteryEstimate]:
        """The estimates with a state of health."""
        return [c.estimate for c in self.cars if c.estimate.soh_percent is not None]


def _fade_group(key: str | tuple[float, float], estimates: list[BatteryEstimate]) -> FadeGroup:
    fades = [e.fade_percent_per_year for e in estimates if e.fade_percent_per_year is not None]
    sohs = [e.soh_percent for e in estimates if e.soh_percent is not None]
    return FadeGroup(
        key=key,
        cars=len(fades),
        fade_percent_per_year=sum(fades) / len(fades) if fades else 0.0,
        soh_percent=sum(sohs) / len(sohs) if sohs else 0.0,
    )


def _dc_bucket(share: float) -> tuple[float, float]:
    for bucket in DC_SHARE_BUCKETS:
        if share < bucket[1]:
            return bucket
    return DC_SHARE_BUCKETS[-1]


def get_fleet_battery(session: Session) -> FleetBattery:
    rows = session.execute(
        select(BatteryEstimate, Vehicle.plate, Depot.name)
        .join(Vehicle, Vehicle.id == BatteryEstimate.vehicle_id)
        .outerjoin(Depot, Depot.id == Vehicle.depot_id)
        .order_by(*_WATCH_ORDER)
    ).all()
    cars = [BatteryCar(estimate, plate, depot) for estimate, plate, depot in rows]
    measured = [c for c in cars if c.estimate.soh_percent is not None]
    alerts = sum(1 for c in measured if c.estimate.low_soh or c.estimate.fast_fade)
    fading = [c.estimate for c in cars if c.estimate.fade_percent_per_year is not None]
    by_model: dict[str, list[BatteryEstimate]] = defaultdict(list)
    by_share: dict[tuple[float, float], list[BatteryEstimate]] = defaultdict(list)
    for e in fading:
        by_model[e.model].append(e)
        if e.dc_share is not None:
            by_share[_dc_bucket(e.dc_share)].append(e)
    fades = [e.fade_percent_per_year for e in fading if e.fade_percent_per_year is not None]
    return FleetBattery(
        cars=cars,
        watch=measured[: max(alerts, WATCH_AT_LEAST)],
        by_model=[_fade_group(m, es) for m, es in sorted(by_model.items())],
        by_dc_share=[_fade_group(b, by_share[b]) for b in DC_SHARE_BUCKETS],
        fleet_fade_percent_per_year=sum(fades) / len(fades) if fades else None,
        fleet_fade_median=statistics.median(fades) if fades else None,
        estimated_at=max((c.estimate.estimated_at for c in cars), default=None),
        as_of=max((c.estimate.as_of for c in cars if c.estimate.as_of), default=None),
    )
