"""Depot smart charging: tonight's plan of a depot, made from the database.

`plan_depot(session, depot)` builds the planner's `Scenario` for the depot from now
(docs/smart-charging.md): its connectors and site limit, its CFE tariffs
(`depot_tariffs`, the engine's `Tariff`), the cars plugged in (open sessions on its
connectors) and the cars booked on them, each car's energy to its driver's target
(`Driver.charge_target_pct`, else the policy's `TARGET_SOC`) from its last state of
charge (the charger's, else the tracker's), its departure (the booking's end, else the
driver's usual pattern — `usual_departure` —, else the next `DEFAULT_DEPARTURE` local),
and the billing month's punta and overall peaks so far (15-minute averages of the
chargers' power meter values). It plans `optimal` and `uncontrolled` over
`HORIZON_SLOTS` slots and keeps the new plan only when the depot has none that still
holds or when the new one saves more than `SAVING_THRESHOLD_CENTS` over carrying on with
the current one (no oscillation).
Services flush; the caller commits.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from charging.planner import (
    SHORT_TOLERANCE_KWH,
    Connector,
    Cost,
    Plan,
    Scenario,
    Vehicle,
    cost_of,
    make_plan,
    scenario_from_rates,
)
from charging.store import ENERGY, POWER
from charging.tariffs import Tariff, TariffError, period_at, slot_rates, tariff_in_effect
from portal.db import utcnow
from portal.models import (
    Booking,
    BookingStatus,
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargingPlan,
    ChargingSession,
    CommandAction,
    CommandStatus,
    Depot,
    DepotPlanning,
    Driver,
    MeterValue,
    SessionStatus,
    VehicleModel,
    VehicleState,
)
from portal.models import (
    Vehicle as FleetVehicle,
)
from portal.services import audit
from portal.services.charging.commands import request_command
from portal.services.charging.profiles import ProfileState, plan_profiles, refusing_connectors
from portal.services.depots import engine_fields, tariff_history

SLOT_MINUTES = 15
HORIZON_SLOTS = 96  # 24 hours
TARGET_SOC = 90.0  # % of the battery, the policy's target
DEFAULT_DEPARTURE = time(6, 0)  # local, for a car without a booking or a usual pattern
PATTERN_DAYS = 28  # the car's sessions that make its driver's usual pattern
PATTERN_WINDOW_H = 3  # ... those begun within 3 hours of the time of day this one began
PATTERN_MIN_SESSIONS = 3
OVERDUE_STAY = timedelta(hours=1)  # a car past its usual stay: planned to leave in an hour
UNKNOWN_CONNECTOR_KW = 22.0  # a connector and charger that never said their power
SAVING_THRESHOLD_CENTS = 5_000  # a new plan replaces the current one above 50 MXN saved
SLOT = timedelta(minutes=SLOT_MINUTES)


@dataclass
class Car:
    """One car in the depot's scenario, with what the screens and the profiles need."""

    key: str  # the planner's vehicle id: "v<vehicle id>" or "s<session id>"
    connector_id: int
    arrival_slot: int
    departure_slot: int
    energy_kwh: float
    max_kw: float
    vehicle_id: int | None = None
    plate: str | None = None
    soc: float | None = None
    battery_kwh: float | None = None
    session_id: int | None = None
    transaction_id: str | None = None
    booking_id: int | None = None
    uncontrolled: bool = False  # its charger refuses profiles: planned at full power
    target_pct: float = TARGET_SOC  # its driver's, else the policy's

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "key"}


@dataclass
class DepotScenario:
    depot: Depot
    start: datetime
    scenario: Scenario
    cars: list[Car] = field(default_factory=list)


class NoTariff(Exception):
    """The depot has no CFE tariff in effect: there is nothing to plan against."""


# --- the switch ------------------------------------------------------------------------


def planning_enabled(session: Session, depot_id: int) -> bool:
    row = session.get(DepotPlanning, depot_id)
    return bool(row and row.enabled)


def set_planning(
    session: Session, depot: Depot, enabled: bool, *, actor_id: int | None, ip: str | None = None
) -> DepotPlanning:
    """Turn the depot's smart charging on or off (audited)."""
    row = session.get(DepotPlanning, depot.id) or DepotPlanning(depot_id=depot.id)
    row.enabled = enabled
    row.changed_by_id = actor_id
    row.changed_at = utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor_id, "depot.smart_charging", depot, ip=ip, enabled=enabled)
    return row


# --- the scenario ----------------------------------------------------------------------


def slot_start(now: datetime) -> datetime:
    """The start of the 15-minute slot holding ``now``."""
    return now.replace(minute=now.minute - now.minute % SLOT_MINUTES, second=0, microsecond=0)


def _slot_of(start: datetime, when: datetime, *, up: bool) -> int:
    slots = (when - start) / SLOT
    return max(0, min(HORIZON_SLOTS, math.ceil(slots) if up else math.floor(slots)))


def _default_departure(depot: Depot, start: datetime) -> datetime:
    zone = ZoneInfo(depot.timezone)
    local = start.astimezone(zone)
    leave = datetime.combine(local.date(), DEFAULT_DEPARTURE, tzinfo=zone)
    if leave <= local:
        leave += timedelta(days=1)
    return leave


def usual_stays(
    session: Session, vehicle_ids: list[int], now: datetime
) -> dict[int, list[tuple[datetime, timedelta]]]:
    """Each car's completed sessions of the last `PATTERN_DAYS` days: (start, stay)."""
    stays: dict[int, list[tuple[datetime, timedelta]]] = {v: [] for v in vehicle_ids}
    rows = session.execute(
        select(ChargingSession.vehicle_id, ChargingSession.started_at, ChargingSession.stopped_at)
        .where(
            ChargingSession.vehicle_id.in_(vehicle_ids),
            ChargingSession.status == SessionStatus.COMPLETED,
            ChargingSession.started_at >= now - timedelta(days=PATTERN_DAYS),
            ChargingSession.stopped_at.is_not(None),
        )
        .order_by(ChargingSession.started_at)
    )
    for vehicle_id, started, stopped in rows:
        if vehicle_id is not None and stopped is not None:  # as the query asks
            stays[vehicle_id].append((started, stopped - started))
    return stays


def usual_departure(
    history: list[tuple[datetime, timedelta]], started: datetime, now: datetime, zone: ZoneInfo
) -> datetime | None:
    """When the driver usually unplugs a car plugged in at ``started``: its start plus the
    median stay of its past sessions begun within `PATTERN_WINDOW_H` hours of that time
    of day (an evening plug-in stays the night, a midday one an hour or two). None with
    fewer than `PATTERN_MIN_SESSIONS` such sessions. A car already past its usual stay
    is planned to leave within `OVERDUE_STAY`."""

    def minute_of_day(at: datetime) -> int:
        local = at.astimezone(zone)
        return local.hour * 60 + local.minute

    began = minute_of_day(started)
    similar = sorted(
        stay
        for start, stay in history
        if min(d := abs(minute_of_day(start) - began), 1440 - d) <= PATTERN_WINDOW_H * 60
    )
    if len(similar) < PATTERN_MIN_SESSIONS:
        return None
    leave = started + similar[len(similar) // 2]
    return max(leave, now + OVERDUE_STAY) if leave <= now else leave


def depot_tariffs(session: Session, depot_id: int) -> list[Tariff]:
    return [Tariff(**engine_fields(t)) for t in tariff_history(session, depot_id)]


def month_peaks(
    session: Session, depot: Depot, tariffs: list[Tariff], now: datetime
) -> tuple[float, float]:
    """The billing month's (punta peak, overall peak) so far in kW: the depot's 15-minute
    average demand from the chargers' power meter values, as CFE's meter measures it."""
    zone = ZoneInfo(depot.timezone)
    month_start = now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    bucket = func.to_timestamp(
        func.floor(func.extract("epoch", MeterValue.sampled_at) / (SLOT_MINUTES * 60))
        * (SLOT_MINUTES * 60)
    )
    kw = func.avg(
        case((func.lower(MeterValue.unit) == "kw", MeterValue.value), else_=MeterValue.value / 1000)
    )
    rows = session.execute(
        select(bucket.label("slot"), MeterValue.charger_id, MeterValue.evse_id, kw)
        .join(Charger, Charger.id == MeterValue.charger_id)
        .where(
            Charger.depot_id == depot.id,
            MeterValue.measurand == POWER,
            MeterValue.phase == "",
            MeterValue.sampled_at >= month_start,
            MeterValue.sampled_at < now,
        )
        .group_by("slot", MeterValue.charger_id, MeterValue.evse_id)
    ).all()
    site: dict[datetime, float] = {}
    for slot, _charger, _evse, value in rows:
        site[slot] = site.get(slot, 0.0) + float(value)
    peak = max(site.values(), default=0.0)
    punta = 0.0
    for slot, value in site.items():
        try:
            kind = tariff_in_effect(tariffs, slot.astimezone(zone).date()).kind
        except TariffError:
            continue
        if period_at(kind, slot) == "punta":
            punta = max(punta, value)
    return punta, peak


def _soc_and_battery(session: Session, vehicle: FleetVehicle | None) -> tuple[float | None, float]:
    if vehicle is None:
        return None, 0.0
    state = session.get(VehicleState, vehicle.id)
    soc = float(state.soc_pct) if state and state.soc_pct is not None else None
    return soc, float(vehicle.battery_kwh)


def _need_kwh(soc: float | None, battery_kwh: float, target_pct: float) -> float:
    """Energy to the target: from the last state of charge, or a flat battery when the
    car never said (better a car charged than a car short)."""
    return max(0.0, (target_pct - (soc if soc is not None else 0.0)) / 100 * battery_kwh)


def _targets(session: Session, driver_ids: list[int]) -> dict[int, float]:
    """The drivers' own targets (% of the battery), where they chose one."""
    rows = session.execute(
        select(Driver.id, Driver.charge_target_pct).where(
            Driver.id.in_(driver_ids), Driver.charge_target_pct.is_not(None)
        )
    )
    return {driver_id: float(pct) for driver_id, pct in rows if pct is not None}


def _car_limit(session: Session, vehicle: FleetVehicle | None, connector_kw: float) -> float:
    if vehicle is None or vehicle.model_id is None:
        return connector_kw
    model = session.get(VehicleModel, vehicle.model_id)
    car_kw = model and (model.max_dc_kw or model.max_ac_kw)
    return min(connector_kw, float(car_kw)) if car_kw else connector_kw


def _plugged_in(session: Session, depot: Depot, start: datetime, kw: dict[int, float]) -> list[Car]:
    cars = []
    sessions = session.scalars(
        select(ChargingSession).where(
            ChargingSession.status == SessionStatus.ACTIVE,
            ChargingSession.connector_id.in_(kw),
        )
    ).all()
    history = usual_stays(session, [s.vehicle_id for s in sessions if s.vehicle_id], start)
    targets = _targets(session, [s.driver_id for s in sessions if s.driver_id])
    zone = ZoneInfo(depot.timezone)
    for s in sessions:
        if s.connector_id is None:  # not possible: the query asks for its connectors
            continue
        vehicle = session.get(FleetVehicle, s.vehicle_id) if s.vehicle_id else None
        soc, battery = _soc_and_battery(session, vehicle)
        soc = s.last_soc if s.last_soc is not None else soc
        booking = session.scalar(select(Booking).where(Booking.session_id == s.id))
        usual = usual_departure(history[vehicle.id], s.started_at, start, zone) if vehicle else None
        leave = booking.window_end if booking else usual or _default_departure(depot, start)
        target = targets.get(s.driver_id or 0, TARGET_SOC)
        cars.append(
            Car(
                key=f"v{vehicle.id}" if vehicle else f"s{s.id}",
                connector_id=s.connector_id,
                arrival_slot=0,
                departure_slot=_slot_of(start, leave, up=True),
                energy_kwh=_need_kwh(soc, battery, target) if vehicle else 0.0,
                max_kw=_car_limit(session, vehicle, kw[s.connector_id]),
                vehicle_id=vehicle.id if vehicle else None,
                plate=vehicle.plate if vehicle else None,
                soc=soc,
                battery_kwh=battery or None,
                session_id=s.id,
                transaction_id=s.transaction_id,
                booking_id=booking.id if booking else None,
                target_pct=target,
            )
        )
    return cars


def _booked(session: Session, depot: Depot, start: datetime, kw: dict[int, float]) -> list[Car]:
    cars = []
    bookings = session.scalars(
        select(Booking).where(
            Booking.depot_id == depot.id,
            Booking.status.in_((BookingStatus.BOOKED, BookingStatus.RESERVED)),
            Booking.connector_id.in_(kw),
            Booking.window_start < start + HORIZON_SLOTS * SLOT,
            Booking.window_end > start,
        )
    ).all()
    targets = _targets(session, [b.driver_id for b in bookings])
    for b in bookings:
        if b.connector_id is None:
            continue
        soc, battery = _soc_and_battery(session, b.vehicle)
        target = targets.get(b.driver_id, TARGET_SOC)
        cars.append(
            Car(
                key=f"v{b.vehicle_id}",
                connector_id=b.connector_id,
                arrival_slot=_slot_of(start, b.window_start, up=False),
                departure_slot=_slot_of(start, b.window_end, up=True),
                energy_kwh=_need_kwh(soc, battery, target),
                max_kw=_car_limit(session, b.vehicle, kw[b.connector_id]),
                vehicle_id=b.vehicle_id,
                plate=b.vehicle.plate,
                soc=soc,
                battery_kwh=battery,
                booking_id=b.id,
                target_pct=target,
            )
        )
    return cars


def _one_car_at_a_time(cars: list[Car]) -> list[Car]:
    """On each connector a car leaves when the next one is due; a car seen twice (plugged
    in and booked) is planned once, plugged in; a car left without a slot is dropped."""
    seen: set[str] = set()
    kept: list[Car] = []
    for car in sorted(cars, key=lambda c: (c.session_id is None, c.arrival_slot)):
        if car.key not in seen:
            seen.add(car.key)
            kept.append(car)
    kept.sort(key=lambda c: (c.connector_id, c.arrival_slot))
    for car, following in itertools.pairwise(kept):
        if following.connector_id == car.connector_id:
            car.departure_slot = min(car.departure_slot, following.arrival_slot)
    return [c for c in kept if c.departure_slot > c.arrival_slot]


def depot_scenario(session: Session, depot: Depot, now: datetime | None = None) -> DepotScenario:
    """The depot's scenario from the slot holding ``now``; `NoTariff` without a tariff."""
    start = slot_start(now or utcnow())
    tariffs = depot_tariffs(session, depot.id)
    try:
        rates = slot_rates(tariffs, start, HORIZON_SLOTS, SLOT_MINUTES)
    except TariffError as error:
        raise NoTariff(str(error)) from error
    rows = session.execute(
        select(ChargerConnector, Charger.max_kw)
        .join(Charger, Charger.id == ChargerConnector.charger_id)
        .where(Charger.depot_id == depot.id)
        .order_by(ChargerConnector.id)
    ).all()
    kw = {c.id: float(c.max_kw or charger_kw or UNKNOWN_CONNECTOR_KW) for c, charger_kw in rows}
    cars = _one_car_at_a_time(
        _plugged_in(session, depot, start, kw) + _booked(session, depot, start, kw)
    )
    refusing = refusing_connectors(session, depot.id)
    for car in cars:
        car.uncontrolled = car.connector_id in refusing
    punta_peak, peak = month_peaks(session, depot, tariffs, start)
    scenario = scenario_from_rates(
        rates,
        site_limit_kw=float(depot.site_power_kw),
        connectors=[Connector(str(cid), limit) for cid, limit in kw.items()],
        vehicles=[
            Vehicle(
                c.key,
                str(c.connector_id),
                c.arrival_slot,
                c.departure_slot,
                c.energy_kwh,
                c.max_kw,
                controlled=not c.uncontrolled,
            )
            for c in cars
        ],
        punta_peak_so_far_kw=punta_peak,
        peak_so_far_kw=peak,
    )
    return DepotScenario(depot=depot, start=start, scenario=scenario, cars=cars)


# --- the plan --------------------------------------------------------------------------


def _cents(mxn: float) -> int:
    return round(mxn * 100)


def _costs(cost: Cost) -> dict[str, int]:
    return {
        "energy": _cents(cost.energy_mxn),
        "capacity": _cents(cost.capacity_mxn),
        "distribution": _cents(cost.distribution_mxn),
        "total": _cents(cost.total_mxn),
    }


def current_plan(session: Session, depot_id: int) -> ChargingPlan | None:
    return session.scalar(
        select(ChargingPlan)
        .where(ChargingPlan.depot_id == depot_id)
        .order_by(ChargingPlan.created_at.desc(), ChargingPlan.id.desc())
        .limit(1)
    )


def same_sessions(current: ChargingPlan, built: DepotScenario) -> bool:
    """Whether each car is plugged in now on the session the plan has it on: a booked car
    that arrived (its profile must name its transaction), a car plugged in again, or a
    car the plan has plugged in that left, and the plan no longer holds."""
    planned = {key: car.get("session_id") for key, car in current.cars.items()}
    return {c.key for c in built.cars} == set(planned) and all(
        planned[c.key] == c.session_id for c in built.cars
    )


def carry_on_cost(
    current: ChargingPlan, built: DepotScenario, new: Plan | None = None
) -> int | None:
    """What carrying on with ``current`` costs in the new scenario (centavos), or None when
    it no longer holds: another set of cars, a car on another session (`same_sessions`),
    a car whose charger began or stopped refusing profiles, or a car it would leave short
    of its need — of what the ``new`` plan would give it, when the need cannot be met (a
    car short either way does not make a new plan every quarter hour)."""
    scenario = built.scenario
    if set(current.schedule) != set(scenario.vehicle_ids) or not same_sessions(current, built):
        return None
    if any(bool(current.cars[c.key].get("uncontrolled")) != c.uncontrolled for c in built.cars):
        return None
    offset = round((built.start - current.start_at) / SLOT)
    if offset < 0:
        return None
    kw = np.zeros((len(scenario.vehicle_ids), scenario.slots))
    for i, key in enumerate(scenario.vehicle_ids):
        rest = current.schedule[key][offset : offset + scenario.slots]
        kw[i, : len(rest)] = rest
    delivered = kw.sum(axis=1) * scenario.slot_hours
    need = np.array([v.energy_kwh for v in scenario.vehicles])
    if new is not None:
        rows = dict(zip(new.vehicle_ids, new.kw, strict=True))
        possible = np.array([rows[v].sum() for v in scenario.vehicle_ids]) * scenario.slot_hours
        need = np.minimum(need, possible)
    if np.any(delivered < need - SHORT_TOLERANCE_KWH):
        return None
    return _cents(cost_of(scenario, kw).total_mxn)


def _store(built: DepotScenario, plan: Plan, uncontrolled: Plan) -> ChargingPlan:
    return ChargingPlan(
        depot_id=built.depot.id,
        strategy=plan.strategy,
        status=str(plan.status),
        start_at=built.start,
        slot_minutes=SLOT_MINUTES,
        site_limit_kw=built.scenario.site_limit_kw,
        cost_cents=_cents(plan.cost.total_mxn),
        uncontrolled_cost_cents=_cents(uncontrolled.cost.total_mxn),
        costs={"plan": _costs(plan.cost), "uncontrolled": _costs(uncontrolled.cost)},
        schedule={k: [round(x, 3) for x in v] for k, v in plan.schedule().items()},
        short_kwh={k: round(v, 3) for k, v in plan.short_kwh.items() if v > 0},
        punta=[bool(p) for p in built.scenario.punta],
        cars={c.key: c.as_dict() for c in built.cars},
    )


@dataclass(frozen=True)
class Replan:
    plan: ChargingPlan
    new: bool  # False: the current plan was kept
    saving_cents: int  # what the new plan saves over carrying on (0 when there was none)


def plan_depot(
    session: Session,
    depot: Depot,
    now: datetime | None = None,
    *,
    threshold_cents: int = SAVING_THRESHOLD_CENTS,
) -> Replan:
    """Plan the depot from now; keep the current plan unless the new one saves more than
    ``threshold_cents`` or the current one no longer holds. `NoTariff` without a tariff."""
    built = depot_scenario(session, depot, now)
    plan = make_plan(built.scenario, "optimal")
    current = current_plan(session, depot.id)
    carry_on = carry_on_cost(current, built, plan) if current else None
    saving = 0 if carry_on is None else carry_on - _cents(plan.cost.total_mxn)
    if current is not None and carry_on is not None and saving <= threshold_cents:
        return Replan(current, new=False, saving_cents=saving)
    row = _store(built, plan, make_plan(built.scenario, "uncontrolled"))
    session.add(row)
    session.flush()
    return Replan(row, new=True, saving_cents=saving)


def replan_enabled_depots(session: Session, now: datetime | None = None) -> list[Replan]:
    """Re-plan every depot whose planning is on (the 15-minute job); depots without a
    tariff are skipped."""
    depots = session.scalars(
        select(Depot)
        .join(DepotPlanning, DepotPlanning.depot_id == Depot.id)
        .where(DepotPlanning.enabled.is_(True), Depot.retired_at.is_(None))
        .order_by(Depot.id)
        .with_for_update(of=DepotPlanning)  # a depot's re-plans one at a time (replan_depot)
    )
    done = []
    for depot in depots:
        try:
            done.append(plan_depot(session, depot, now))
        except NoTariff:
            continue
    return done


# --- re-planning on a change (charging.replan) -----------------------------------------

# A session strays when its metered power is off its plan by more than the larger of
# these in each of its last STRAY_SAMPLES power readings.
STRAY_MIN_KW = 1.0
STRAY_SHARE = 0.2
STRAY_SAMPLES = 2
STRAY_RECENT = timedelta(minutes=5)  # readings older than this say nothing about now
STRAY_GRACE = timedelta(minutes=1)  # after a plan is made, for its profiles to arrive


def replan_depot(session: Session, depot_id: int, now: datetime | None = None) -> Replan | None:
    """Re-plan one depot after a change (a car arrived or left, a session strayed), with
    the same threshold as the 15-minute job; None when its planning is off, it is
    retired or has no tariff. Its planning row is locked until the commit, so two
    re-plans of a depot never run at once."""
    planning = session.get(DepotPlanning, depot_id, with_for_update=True)
    depot = session.get(Depot, depot_id)
    if planning is None or not planning.enabled or depot is None or depot.retired_at:
        return None
    try:
        return plan_depot(session, depot, now)
    except NoTariff:
        return None


@dataclass(frozen=True)
class Stray:
    depot_id: int
    plan_id: int
    session_id: int
    planned_kw: float  # in the latest reading's slot
    metered_kw: float  # the latest reading


def _off_plan(metered_kw: float, planned_kw: float) -> bool:
    return abs(metered_kw - planned_kw) > max(STRAY_MIN_KW, STRAY_SHARE * planned_kw)


def _metered_kw(
    rows: list[tuple[datetime, str, str | None, float]],
) -> list[tuple[datetime, float]]:
    """A session's metered kW, newest first, from its readings (newest first): its power
    readings, or without them the energy register's deltas (at each pair's midpoint)."""
    power = [
        (at, v if (u or "").lower() == "kw" else v / 1000) for at, m, u, v in rows if m == POWER
    ]
    if power:
        return power
    energy = [
        (at, v * 1000 if (u or "").lower() == "kwh" else v) for at, m, u, v in rows if m == ENERGY
    ]
    return [
        (old + (new - old) / 2, (new_wh - old_wh) / 1000 / ((new - old) / timedelta(hours=1)))
        for (new, new_wh), (old, old_wh) in itertools.pairwise(energy)
        if new > old
    ]


def strays(session: Session, now: datetime | None = None) -> list[Stray]:
    """The running sessions, in the current plans of the depots with planning on, whose
    last `STRAY_SAMPLES` metered kW are each off the plan's kW in their slot by more than
    max(`STRAY_MIN_KW`, `STRAY_SHARE` of it). Metered kW: the `Power.Active.Import`
    readings, or for a charger that sends none the energy register's deltas; only
    readings taken within `STRAY_RECENT`, from `STRAY_GRACE` after the plan was made."""
    now = now or utcnow()
    found = []
    depots = session.scalars(
        select(DepotPlanning.depot_id).where(DepotPlanning.enabled.is_(True))
    ).all()
    for depot_id in depots:
        plan = current_plan(session, depot_id)
        if plan is None:
            continue
        keys = {car["session_id"]: k for k, car in plan.cars.items() if car.get("session_id")}
        rows: dict[int, list[tuple[datetime, str, str | None, float]]] = {}
        for session_id, at, measurand, unit, value in session.execute(
            select(
                MeterValue.session_id,
                MeterValue.sampled_at,
                MeterValue.measurand,
                MeterValue.unit,
                MeterValue.value,
            )
            .join(ChargingSession, ChargingSession.id == MeterValue.session_id)
            .where(
                MeterValue.session_id.in_(keys),
                ChargingSession.status == SessionStatus.ACTIVE,
                MeterValue.measurand.in_((POWER, ENERGY)),
                MeterValue.phase == "",
                MeterValue.sampled_at >= max(plan.created_at + STRAY_GRACE, now - STRAY_RECENT),
                MeterValue.sampled_at <= now,
            )
            .order_by(MeterValue.session_id, MeterValue.sampled_at.desc())
        ):
            if session_id is not None:
                rows.setdefault(session_id, []).append((at, measurand, unit, value))
        for session_id, readings in rows.items():
            schedule = plan.schedule[keys[session_id]]
            compared = []
            for at, metered in _metered_kw(readings)[:STRAY_SAMPLES]:
                slot = math.floor((at - plan.start_at) / SLOT)
                if 0 <= slot < len(schedule):
                    compared.append((metered, schedule[slot]))
            if len(compared) == STRAY_SAMPLES and all(_off_plan(m, p) for m, p in compared):
                metered, planned = compared[0]
                found.append(Stray(depot_id, plan.id, session_id, planned, metered))
    return found


# --- sending it ------------------------------------------------------------------------

RATE_UNIT_KEY = "ChargingScheduleAllowedChargingRateUnit"
AC_MAX_KW = 22.0  # a connector of at most this is taken for AC (limited in A) unless told
PROFILE_ID_BASE = 4200  # the plan's profile on EVSE n is 4200 + n, at stack level 1


def _accepted_units(session: Session, charger_id: int) -> str | None:
    """What the charger last said of ChargingScheduleAllowedChargingRateUnit, if asked."""
    answers = session.scalars(
        select(ChargerCommand.response)
        .where(
            ChargerCommand.charger_id == charger_id,
            ChargerCommand.action == CommandAction.GET_CONFIGURATION,
            ChargerCommand.status == CommandStatus.ACCEPTED,
        )
        .order_by(ChargerCommand.id.desc())
    )
    for response in answers:
        for item in (response or {}).get("configuration_key") or []:
            if item.get("key") == RATE_UNIT_KEY and item.get("value"):
                return str(item["value"])
    return None


def rate_unit(session: Session, connector: ChargerConnector) -> str:
    """W or A as the charger accepts; unknown: A for an AC connector (≤ 22 kW), W for DC."""
    said = _accepted_units(session, connector.charger_id)
    if said is not None:
        return "W" if "Power" in said else "A"
    return "A" if float(connector.max_kw or AC_MAX_KW) <= AC_MAX_KW else "W"


def _profile_periods(kw: list[float], first: int) -> list[dict[str, Any]]:
    """The car's kW from slot ``first`` as profile periods, one per change of power."""
    periods: list[dict[str, Any]] = []
    for slot in range(first, len(kw)):
        if not periods or periods[-1]["limit_kw"] != f"{kw[slot]:.1f}":
            periods.append(
                {"start_s": (slot - first) * SLOT_MINUTES * 60, "limit_kw": f"{kw[slot]:.1f}"}
            )
    return periods


def send_plan(
    session: Session, plan: ChargingPlan, now: datetime | None = None
) -> list[ChargerCommand]:
    """The plan as charging profiles on the command bus, one per car with a connector:
    TxProfile for a running transaction, TxDefaultProfile for a connector awaiting a
    booked car; from the current slot on. A charger that refuses profiles gets none
    (its cars are planned at full power). The caller commits, then enqueues each command
    (`workers.ocpp.enqueue_command`); an offline charger's command fails at once. Each
    accepted profile is then confirmed with GetCompositeSchedule
    (`portal.services.charging.profiles`)."""
    start = slot_start(now or utcnow())
    first = max(0, round((start - plan.start_at) / SLOT))
    refusing = refusing_connectors(session, plan.depot_id)
    commands = []
    for key, kw in plan.schedule.items():
        car = plan.cars[key]
        connector = session.get(ChargerConnector, car["connector_id"])
        if connector is None or first >= len(kw) or connector.id in refusing:
            continue
        params: dict[str, Any] = {
            "evse_id": connector.evse_id,
            "profile_id": PROFILE_ID_BASE + connector.evse_id,
            "stack_level": 1,
            "purpose": "tx" if car.get("transaction_id") else "tx_default",
            "periods": _profile_periods(kw, first),
            "start_at": (plan.start_at + first * SLOT).isoformat(),
            "unit": rate_unit(session, connector),
        }
        if car.get("transaction_id"):
            params["transaction_id"] = car["transaction_id"]
        commands.append(
            request_command(
                session, connector.charger_id, CommandAction.SET_CHARGING_PROFILE, params, None
            )
        )
    return commands


def unsent_profiles(session: Session, plan: ChargingPlan) -> list[ChargerCommand]:
    """The profiles logged for the depot since ``plan`` was made and still queued: what a
    job that committed the plan but failed before enqueueing them enqueues when retried
    (the command job is unique per command, so one already queued is not doubled)."""
    return list(
        session.scalars(
            select(ChargerCommand)
            .join(Charger, Charger.id == ChargerCommand.charger_id)
            .where(
                Charger.depot_id == plan.depot_id,
                ChargerCommand.action == CommandAction.SET_CHARGING_PROFILE,
                ChargerCommand.status == CommandStatus.QUEUED,
                ChargerCommand.requested_at >= plan.created_at,
            )
            .order_by(ChargerCommand.id)
        )
    )


@dataclass(frozen=True)
class DepotPlanState:
    depot: Depot
    enabled: bool
    plan: ChargingPlan | None


def depot_plans(session: Session) -> list[DepotPlanState]:
    """Every active depot with its switch and its current plan (the managers' page)."""
    depots = session.scalars(select(Depot).where(Depot.retired_at.is_(None)).order_by(Depot.name))
    return [
        DepotPlanState(d, planning_enabled(session, d.id), current_plan(session, d.id))
        for d in depots
    ]


@dataclass(frozen=True)
class ReadyAt:
    target_pct: float
    at: datetime


def ready_at(session: Session, vehicle_id: int) -> ReadyAt | None:
    """When the current plan of the car's depot has it at the target: the end of its last
    slot drawing power. None when no plan holds the car or the plan leaves it short."""
    vehicle = session.get(FleetVehicle, vehicle_id)
    plan = current_plan(session, vehicle.depot_id) if vehicle else None
    key = f"v{vehicle_id}"
    if plan is None or key not in plan.schedule or key in plan.short_kwh:
        return None
    drawing = [i for i, kw in enumerate(plan.schedule[key]) if kw > 0]
    if not drawing:
        return None
    target = float(plan.cars[key].get("target_pct", TARGET_SOC))  # older plans: the policy's
    return ReadyAt(target, plan.start_at + (drawing[-1] + 1) * SLOT)


@dataclass(frozen=True)
class HeldBack:
    kw: float  # what the plan lets the car draw now
    until: datetime | None  # when the plan gives it more power (None: not before it leaves)


def held_back(session: Session, depot_id: int, now: datetime) -> dict[int, HeldBack]:
    """The running sessions (by id) the depot's plan holds below their car's full power
    now, with the start of the first slot that gives them more (the staff's board)."""
    plan = current_plan(session, depot_id)
    if plan is None or not planning_enabled(session, depot_id):
        return {}
    slot = round((slot_start(now) - plan.start_at) / SLOT)
    held = {}
    for key, kw in plan.schedule.items():
        car = plan.cars[key]
        if car.get("session_id") is None or not 0 <= slot < len(kw):
            continue
        if kw[slot] >= car["max_kw"] - 0.05:
            continue
        later = next((i for i in range(slot + 1, len(kw)) if kw[i] > kw[slot] + 0.05), None)
        until = plan.start_at + later * SLOT if later is not None else None
        held[car["session_id"]] = HeldBack(kw[slot], until)
    return held


def session_profiles(session: Session, depot_id: int) -> dict[int, ProfileState]:
    """The running sessions (by id) of the depot's current plan with where their charging
    profile stands (the staff's board); nothing while planning is off."""
    plan = current_plan(session, depot_id)
    if plan is None or not planning_enabled(session, depot_id):
        return {}
    states = plan_profiles(session, plan)
    return {
        plan.cars[key]["session_id"]: state
        for key, state in states.items()
        if plan.cars[key].get("session_id") is not None
    }
