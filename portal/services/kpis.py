"""The manager's KPI dashboard: one function per panel, each one or two SQL statements.

Every function takes the session, the period as local (America/Mexico_City) dates
`start`..`end` inclusive, and a depot id or None for every depot, and returns a small
frozen dataclass with the figures and the series its chart draws. Labels are keys
(enum values, dates); the view translates them. Requires PostgreSQL (time zones,
`generate_series`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, literal, select, text
from sqlalchemy.orm import Session

from portal.models import (
    Booking,
    BookingStatus,
    Charger,
    ChargerConnector,
    ChargingSession,
    Contract,
    Depot,
    EntryKind,
    Incident,
    IncidentStatus,
    LedgerEntry,
    Vehicle,
    VehicleDailyKm,
    VehicleStatus,
)
from portal.models.credit import CreditApplication, CreditDecision, Outcome

from .collections import Sort, _query

ZONE_NAME = "America/Mexico_City"
ZONE = ZoneInfo(ZONE_NAME)
CLOSED_INCIDENT = (IncidentStatus.CLOSED, IncidentStatus.REJECTED, IncidentStatus.CANCELLED)
# Days-late buckets for the overdue amounts: (lowest day, highest day or None).
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 7), (8, 14), (15, 30), (31, 60), (61, None))
DELINQUENCY_WEEKS = 26
HOURS = range(24)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as [since, until) instants: local midnight of start and of end + 1."""
    return (
        datetime.combine(start, time.min, ZONE),
        datetime.combine(end + timedelta(days=1), time.min, ZONE),
    )


def _no_jit(session: Session) -> None:
    """Turn PostgreSQL's JIT off for the rest of the transaction: these aggregates take
    tens of milliseconds, and their row estimates (a `generate_series` counts as 1,000
    rows) make JIT compile for hundreds of milliseconds first."""
    session.execute(text("SET LOCAL jit = off"))


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _local_day(column: Any) -> Any:
    return cast(func.timezone(ZONE_NAME, column), Date)


# --- fleet utilization --------------------------------------------------------------


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


def fleet_utilization(session: Session, start: date, end: date, depot_id: int | None) -> FleetPanel:
    _no_jit(session)
    counts = select(Vehicle.status, func.count()).group_by(Vehicle.status)
    if depot_id:
        counts = counts.where(Vehicle.depot_id == depot_id)
    by_status = {VehicleStatus(s): int(n) for s, n in session.execute(counts)}
    daily = (
        select(VehicleDailyKm.day, func.count())
        .where(VehicleDailyKm.day.between(start, end), VehicleDailyKm.km > 0)
        .group_by(VehicleDailyKm.day)
    )
    on_road = select(func.count(func.distinct(VehicleDailyKm.vehicle_id))).where(
        VehicleDailyKm.day.between(start, end), VehicleDailyKm.km > 0
    )
    if depot_id:
        daily = daily.join(Vehicle, Vehicle.id == VehicleDailyKm.vehicle_id).where(
            Vehicle.depot_id == depot_id
        )
        on_road = on_road.join(Vehicle, Vehicle.id == VehicleDailyKm.vehicle_id).where(
            Vehicle.depot_id == depot_id
        )
    per_day = {d: int(n) for d, n in session.execute(daily)}
    retired = by_status.get(VehicleStatus.RETIRED, 0)
    return FleetPanel(
        vehicles=sum(by_status.values()) - retired,
        on_road=int(session.scalar(on_road) or 0),
        assigned=by_status.get(VehicleStatus.LEASED, 0),
        in_repair=by_status.get(VehicleStatus.IN_REPAIR, 0),
        idle=by_status.get(VehicleStatus.AVAILABLE, 0),
        out_of_service=by_status.get(VehicleStatus.OUT_OF_SERVICE, 0),
        daily_on_road=[(d, per_day.get(d, 0)) for d in _days(start, end)],
    )


# --- km per car per day -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KmPanel:
    km: float
    car_days: int  # (vehicle, day) pairs with kilometres driven
    daily: list[tuple[date, float]]  # average km per car that drove that day

    @property
    def km_per_car_day(self) -> float:
        return self.km / self.car_days if self.car_days else 0.0


def km_per_car(session: Session, start: date, end: date, depot_id: int | None) -> KmPanel:
    _no_jit(session)
    query = (
        select(VehicleDailyKm.day, func.sum(VehicleDailyKm.km), func.count())
        .where(VehicleDailyKm.day.between(start, end), VehicleDailyKm.km > 0)
        .group_by(VehicleDailyKm.day)
    )
    if depot_id:
        query = query.join(Vehicle, Vehicle.id == VehicleDailyKm.vehicle_id).where(
            Vehicle.depot_id == depot_id
        )
    rows = {d: (float(km), int(n)) for d, km, n in session.execute(query)}
    daily = []
    for d in _days(start, end):
        km, n = rows.get(d, (0.0, 0))
        daily.append((d, km / n if n else 0.0))
    return KmPanel(
        km=sum(km for km, _ in rows.values()),
        car_days=sum(n for _, n in rows.values()),
        daily=daily,
    )


# --- collections --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectionsPanel:
    billed_cents: int  # charges posted in the period (net of reversals of charges)
    collected_cents: int  # payments received in the period
    drivers_late: int  # as of the end of the period
    overdue: list[tuple[tuple[int, int | None], int, int]]  # bucket, cents, drivers
    weekly: list[tuple[date, int, int]]  # week's Monday (or start), billed, collected

    @property
    def collection_rate(self) -> float:
        return self.collected_cents / self.billed_cents if self.billed_cents else 0.0

    @property
    def overdue_cents(self) -> int:
        return sum(cents for _, cents, _ in self.overdue)


def collections_summary(
    session: Session, start: date, end: date, depot_id: int | None
) -> CollectionsPanel:
    _no_jit(session)
    since, until = _bounds(start, end)
    le = LedgerEntry
    week = func.greatest(
        cast(func.date_trunc("week", func.timezone(ZONE_NAME, le.posted_at)), Date),
        literal(start, Date),
    )
    charges = (EntryKind.PAYMENT, EntryKind.DEPOSIT, EntryKind.ADJUSTMENT, EntryKind.REVERSAL)
    billed = case((le.kind.not_in(charges), le.amount_cents), else_=0)
    collected = case((le.kind == EntryKind.PAYMENT, -le.amount_cents), else_=0)
    query = (
        select(week.label("week"), func.sum(billed), func.sum(collected))
        .where(le.posted_at >= since, le.posted_at < until)
        .group_by(text("week"))
    )
    if depot_id:
        query = (
            query.join(Contract, Contract.id == le.contract_id)
            .join(Vehicle, Vehicle.id == Contract.vehicle_id)
            .where(Vehicle.depot_id == depot_id)
        )
    rows = {w: (int(b or 0), int(c or 0)) for w, b, c in session.execute(query)}
    weeks = sorted({max(start, d - timedelta(days=d.weekday())) for d in _days(start, end)})
    weekly = [(w, *rows.get(w, (0, 0))) for w in weeks]
    # Overdue by age: the collections list itself (one statement, FIFO in SQL) as of
    # the end of the period, aggregated by days late.
    owing = _query(
        end, depot_id=depot_id, min_days=1, search="", owing_only=True, sort=Sort.DAYS
    ).subquery()
    bucket_case = case(
        *[
            (
                owing.c.days_late <= high if high is not None else owing.c.days_late >= low,
                literal(n),
            )
            for n, (low, high) in enumerate(AGE_BUCKETS)
        ],
    )
    buckets = {
        int(n): (int(cents or 0), int(drivers))
        for n, cents, drivers in session.execute(
            select(bucket_case.label("bucket"), func.sum(owing.c.balance), func.count()).group_by(
                text("bucket")
            )
        )
    }
    overdue = [(b, *buckets.get(n, (0, 0))) for n, b in enumerate(AGE_BUCKETS)]
    return CollectionsPanel(
        billed_cents=sum(b for _, b, _ in weekly),
        collected_cents=sum(c for _, _, c in weekly),
        drivers_late=sum(d for _, _, d in overdue),
        overdue=overdue,
        weekly=weekly,
    )


# --- energy -------------------------------------------------------------------------


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


def energy(session: Session, start: date, end: date, depot_id: int | None) -> EnergyPanel:
    """kWh and cost of charging sessions (counted on the local day they started) per depot
    and day; cost per km = that cost over the km the depot's cars drove."""
    _no_jit(session)
    since, until = _bounds(start, end)
    cs = ChargingSession
    wh = func.coalesce(
        cs.energy_wh, func.greatest(0, cs.last_meter_wh - cs.meter_start_wh), literal(0)
    )
    day = _local_day(cs.started_at).label("day")
    query = (
        select(Charger.depot_id, day, func.sum(wh), func.sum(func.coalesce(cs.cost_cents, 0)))
        .add_columns(func.count())
        .join(Charger, Charger.id == cs.charger_id)
        .where(cs.started_at >= since, cs.started_at < until, Charger.depot_id.is_not(None))
        .group_by(Charger.depot_id, text("day"))
    )
    km_query = (
        select(Vehicle.depot_id, func.sum(VehicleDailyKm.km))
        .join(Vehicle, Vehicle.id == VehicleDailyKm.vehicle_id)
        .where(VehicleDailyKm.day.between(start, end))
        .group_by(Vehicle.depot_id)
    )
    depots = select(Depot.id, Depot.name).order_by(Depot.name)
    if depot_id:
        query = query.where(Charger.depot_id == depot_id)
        km_query = km_query.where(Vehicle.depot_id == depot_id)
        depots = depots.where(Depot.id == depot_id)
    per_depot: dict[int, list[float]] = {}
    per_day: dict[date, list[float]] = {}
    for dep, d, w, cost, n in session.execute(query):
        cell = per_depot.setdefault(dep, [0.0, 0, 0])
        cell[0] += int(w or 0) / 1000
        cell[1] += int(cost or 0)
        cell[2] += int(n)
        daycell = per_day.setdefault(d, [0.0, 0])
        daycell[0] += int(w or 0) / 1000
        daycell[1] += int(cost or 0)
    km = {dep: float(k or 0) for dep, k in session.execute(km_query)}
    rows = []
    for dep, name in session.execute(depots):
        kwh, cost, n = per_depot.get(dep, [0.0, 0, 0])
        rows.append(DepotEnergyRow(dep, name, kwh, int(cost), int(n), km.get(dep, 0.0)))
    daily = [
        (d, per_day.get(d, [0.0, 0])[0], int(per_day.get(d, [0.0, 0])[1]))
        for d in _days(start, end)
    ]
    return EnergyPanel(depots=rows, daily=daily)


# --- charging -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargingPanel:
    sessions: int
    connectors: int
    hourly: list[tuple[int, float]]  # hour of day 0..23, share of connector time in use
    bookings: int  # bookings whose window was in the period, not cancelled
    no_shows: int

    @property
    def no_show_rate(self) -> float:
        return self.no_shows / self.bookings if self.bookings else 0.0


def charging(session: Session, start: date, end: date, depot_id: int | None) -> ChargingPanel:
    """Connector utilization by local hour of day: the seconds of each hour that sessions
    held a connector, over (connectors x days in the period x 3600)."""
    _no_jit(session)
    since, until = _bounds(start, end)
    # Each session clipped to the period, in local epoch seconds, cut at hour boundaries
    # with an integer series (much cheaper than a series of timestamps).
    hourly_sql = text(
        """
        WITH s AS (
          SELECT extract(epoch FROM greatest(cs.started_at, :since) AT TIME ZONE :zone)::bigint
                   AS a,
                 extract(epoch FROM least(coalesce(cs.stopped_at, now()), :until)
                   AT TIME ZONE :zone)::bigint AS b,
                 cs.started_at >= :since AS started_in
          FROM charging_sessions cs JOIN chargers c ON c.id = cs.charger_id
          WHERE cs.started_at < :until AND coalesce(cs.stopped_at, now()) > :since
            AND c.depot_id IS NOT NULL
            AND (CAST(:depot_id AS integer) IS NULL OR c.depot_id = :depot_id)
        )
        SELECT (k % 24)::int AS hour, sum(least(b, (k + 1) * 3600) - greatest(a, k * 3600))
        FROM s, generate_series(a / 3600, (b - 1) / 3600) AS k
        WHERE b > a
        GROUP BY 1
        UNION ALL  -- hour -1: the sessions started in the period, from the same scan
        SELECT -1, count(*) FILTER (WHERE started_in) FROM s
        """
    )
    params = {"since": since, "until": until, "zone": ZONE_NAME, "depot_id": depot_id}
    seconds = {int(h): float(s or 0) for h, s in session.execute(hourly_sql, params)}
    connectors_q = select(func.count(ChargerConnector.id)).join(
        Charger, Charger.id == ChargerConnector.charger_id
    )
    bookings_q = select(
        func.count(),
        func.count().filter(Booking.status == BookingStatus.NO_SHOW),
    ).where(
        Booking.window_start >= since,
        Booking.window_start < until,
        Booking.status != BookingStatus.CANCELLED,
    )
    if depot_id:
        connectors_q = connectors_q.where(Charger.depot_id == depot_id)
        bookings_q = bookings_q.where(Booking.depot_id == depot_id)
    else:
        connectors_q = connectors_q.where(Charger.depot_id.is_not(None))
    connectors = int(session.scalar(connectors_q) or 0)
    capacity = connectors * ((end - start).days + 1) * 3600
    bookings, no_shows = session.execute(bookings_q).one()
    return ChargingPanel(
        sessions=int(seconds.pop(-1, 0)),
        connectors=connectors,
        hourly=[(h, min(1.0, seconds.get(h, 0.0) / capacity) if capacity else 0.0) for h in HOURS],
        bookings=int(bookings),
        no_shows=int(no_shows),
    )


# --- incidents ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentsPanel:
    open_by_status: list[tuple[IncidentStatus, int]]  # now
    reported: int  # in the period
    closed: int  # closed in the period
    average_days_to_close: float | None

    @property
    def open(self) -> int:
        return sum(n for _, n in self.open_by_status)


def incidents(session: Session, start: date, end: date, depot_id: int | None) -> IncidentsPanel:
    _no_jit(session)
    since, until = _bounds(start, end)
    open_q = (
        select(Incident.status, func.count())
        .where(Incident.status.not_in(CLOSED_INCIDENT))
        .group_by(Incident.status)
    )
    days = func.extract("epoch", Incident.status_changed_at - Incident.created_at) / 86400
    closed_q = select(func.count(), func.avg(days)).where(
        Incident.status == IncidentStatus.CLOSED,
        Incident.status_changed_at >= since,
        Incident.status_changed_at < until,
    )
    reported_q = select(func.count()).where(
        Incident.created_at >= since, Incident.created_at < until
    )
    if depot_id:
        in_depot = Incident.vehicle_id.in_(select(Vehicle.id).where(Vehicle.depot_id == depot_id))
        open_q, closed_q, reported_q = (
            open_q.where(in_depot),
            closed_q.where(in_depot),
            reported_q.where(in_depot),
        )
    counts = {IncidentStatus(s): int(n) for s, n in session.execute(open_q)}
    closed, average = session.execute(closed_q).one()
    return IncidentsPanel(
        open_by_status=[(s, counts.get(s, 0)) for s in IncidentStatus if s not in CLOSED_INCIDENT],
        reported=int(session.scalar(reported_q) or 0),
        closed=int(closed),
        average_days_to_close=None if average is None else float(average),
    )


# --- credit -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditPanel:
    applications: int  # submitted in the period
    decided: int  # applications whose latest decision is in the period
    approved: int
    declined: int
    referred: int
    weekly: list[tuple[date, int, int]]  # week, submitted, approved

    @property
    def approval_rate(self) -> float:
        return self.approved / self.decided if self.decided else 0.0


def credit(session: Session, start: date, end: date, depot_id: int | None) -> CreditPanel:
    """Applications and decisions (the depot filter does not apply: an application has
    no depot until its contract)."""
    _no_jit(session)
    del depot_id
    since, until = _bounds(start, end)
    submitted_at = func.timezone(ZONE_NAME, CreditApplication.submitted_at)
    week = func.greatest(
        cast(func.date_trunc("week", submitted_at), Date),
        literal(start, Date),
    ).label("week")
    submitted = {
        w: int(n)
        for w, n in session.execute(
            select(week, func.count())
            .where(CreditApplication.submitted_at >= since, CreditApplication.submitted_at < until)
            .group_by(text("week"))
        )
    }
    latest = select(
        CreditDecision.application_id,
        CreditDecision.outcome,
        CreditDecision.created_at,
        func.row_number()
        .over(
            partition_by=CreditDecision.application_id,
            order_by=(CreditDecision.created_at.desc(), CreditDecision.id.desc()),
        )
        .label("n"),
    ).subquery()
    dweek = func.greatest(
        cast(func.date_trunc("week", func.timezone(ZONE_NAME, latest.c.created_at)), Date),
        literal(start, Date),
    ).label("dweek")
    decisions: dict[date, dict[str, int]] = {}
    for w, outcome, n in session.execute(
        select(dweek, latest.c.outcome, func.count())
        .where(latest.c.n == 1, latest.c.created_at >= since, latest.c.created_at < until)
        .group_by(text("dweek"), latest.c.outcome)
    ):
        decisions.setdefault(w, {})[str(outcome)] = int(n)
    weeks = sorted({max(start, d - timedelta(days=d.weekday())) for d in _days(start, end)})
    total = {o.value: sum(v.get(o.value, 0) for v in decisions.values()) for o in Outcome}
    return CreditPanel(
        applications=sum(submitted.values()),
        decided=sum(total.values()),
        approved=total[Outcome.APPROVE.value],
        declined=total[Outcome.DECLINE.value],
        referred=total[Outcome.REFER.value],
        weekly=[
            (w, submitted.get(w, 0), decisions.get(w, {}).get(Outcome.APPROVE.value, 0))
            for w in weeks
        ],
    )


PANELS = ("fleet", "km", "collections", "energy", "charging", "incidents", "credit")

__all__ = [
    "AGE_BUCKETS",
    "PANELS",
    "ChargingPanel",
    "CollectionsPanel",
    "CreditPanel",
    "EnergyPanel",
    "FleetPanel",
    "IncidentsPanel",
    "KmPanel",
    "charging",
    "collections_summary",
    "credit",
    "energy",
    "fleet_utilization",
    "incidents",
    "km_per_car",
]
