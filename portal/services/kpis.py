"""The manager's KPI dashboard: one function per panel, each one or two SQL statements.

Every function takes the session, the period as local (America/Mexico_City) dates
`start`..`end` inclusive, and a depot id or None for every depot, and returns a small
frozen dataclass with the figures and the series its chart draws. Labels are keys
(enum values, dates); the view translates them. Requires PostgreSQL (time zones,
`generate_series`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, case, cast, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from portal.models import (
    RETIRED_STATUSES,
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
    KpiContractOutcome,
    KpiDay,
    LedgerEntry,
    Vehicle,
    VehicleDailyKm,
    VehicleStatus,
)
from portal.models.credit import CreditApplication, CreditDecision, Outcome
from portal.timeutil import local_today, monday_of

from .collections import Sort, _query
from .credit import BAD_DAYS_PAST_DUE, OBSERVATION_WEEKS, contract_outcomes

ZONE_NAME = "America/Mexico_City"
ZONE = ZoneInfo(ZONE_NAME)
CLOSED_INCIDENT = (IncidentStatus.CLOSED, IncidentStatus.REJECTED, IncidentStatus.CANCELLED)
# Days-late buckets for the overdue amounts: (lowest day, highest day or None).
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 7), (8, 14), (15, 30), (31, 60), (61, None))
DELINQUENCY_WEEKS = OBSERVATION_WEEKS
COHORT_MONTHS = 18
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


# --- daily figures: the rollup of closed days and the open day(s) live ---------------

PARTS = frozenset({"km", "ledger", "energy", "hours", "bookings"})
# Not billed: money moving in or out, and the security deposit (held, not earned).
CHARGE_KINDS = (
    EntryKind.PAYMENT,
    EntryKind.SECURITY_DEPOSIT,
    EntryKind.DEPOSIT,
    EntryKind.ADJUSTMENT,
    EntryKind.REVERSAL,
)


@dataclass(slots=True)
class DayFigures:
    """What the panels add up for one local day and one depot (see `KpiDay`)."""

    cars_driven: int = 0
    km: Decimal = Decimal(0)
    billed_cents: int = 0
    collected_cents: int = 0
    sessions: int = 0
    energy_wh: int = 0
    energy_cost_cents: int = 0
    connector_seconds: list[int] = field(default_factory=lambda: [0] * 24)
    bookings: int = 0
    no_shows: int = 0

    def add(self, other: DayFigures) -> None:
        for name in ROLLUP_COLUMNS:
            if name != "connector_seconds":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.connector_seconds = [
            a + b for a, b in zip(self.connector_seconds, other.connector_seconds, strict=True)
        ]


ROLLUP_COLUMNS = tuple(DayFigures.__dataclass_fields__)

Key = tuple[date, int | None]  # (local day, depot id or None)


@dataclass(frozen=True, slots=True)
class RollupState:
    first_day: date | None  # the closed days the rollup holds, or None if it never ran
    last_day: date | None
    computed_at: datetime | None  # its latest refresh


@dataclass(frozen=True, slots=True)
class Days:
    """Daily figures of a period: the closed days from the rollup, the rest live."""

    figures: dict[Key, DayFigures]
    state: RollupState
    live_days: int  # how many of the period's days were computed live

    def total(self, day: date | None = None, depot_id: int | None = None) -> DayFigures:
        """The figures summed over depots (or one depot), over the period (or one day)."""
        out = DayFigures()
        for (d, dep), f in self.figures.items():
            if (day is None or d == day) and (depot_id is None or dep == depot_id):
                out.add(f)
        return out

    def by_day(self) -> dict[date, DayFigures]:
        out: dict[date, DayFigures] = {}
        for (d, _dep), f in self.figures.items():
            out.setdefault(d, DayFigures()).add(f)
        return out

    def by_depot(self) -> dict[int | None, DayFigures]:
        out: dict[int | None, DayFigures] = {}
        for (_d, dep), f in self.figures.items():
            out.setdefault(dep, DayFigures()).add(f)
        return out


def _cell(figures: dict[Key, DayFigures], day: date, depot_id: int | None) -> DayFigures:
    return figures.setdefault((day, depot_id), DayFigures())


def live_days(
    session: Session,
    first: date,
    last: date,
    depot_id: int | None,
    parts: frozenset[str] = PARTS,
) -> dict[Key, DayFigures]:
    """The daily figures of `first`..`last` from the source tables, per depot."""
    _no_jit(session)
    since, until = _bounds(first, last)
    figures: dict[Key, DayFigures] = {}
    params = {
        "first": first,
        "last": last,
        "since": since,
        "until": until,
        "zone": ZONE_NAME,
        "depot_id": depot_id,
    }
    depot = "(CAST(:depot_id AS integer) IS NULL OR {} = :depot_id)"
    if "km" in parts:
        sql = f"""
            SELECT k.day, v.depot_id, count(*) FILTER (WHERE k.km > 0), sum(k.km)
            FROM vehicle_daily_km k JOIN vehicles v ON v.id = k.vehicle_id
            WHERE k.day BETWEEN :first AND :last AND {depot.format("v.depot_id")}
            GROUP BY 1, 2
        """  # noqa: S608 - fixed SQL, parameters bound
        for d, dep, cars, km in session.execute(text(sql), params):
            cell = _cell(figures, d, dep)
            cell.cars_driven, cell.km = int(cars), Decimal(km or 0)
    if "ledger" in parts:
        le = LedgerEntry
        day = _local_day(le.posted_at).label("day")
        query = (
            select(
                day,
                Vehicle.depot_id,
                func.sum(case((le.kind.not_in(CHARGE_KINDS), le.amount_cents), else_=0)),
                func.sum(case((le.kind == EntryKind.PAYMENT, -le.amount_cents), else_=0)),
            )
            .outerjoin(Contract, Contract.id == le.contract_id)
            .outerjoin(Vehicle, Vehicle.id == Contract.vehicle_id)
            .where(le.posted_at >= since, le.posted_at < until)
            .group_by(text("day"), Vehicle.depot_id)
        )
        if depot_id:
            query = query.where(Vehicle.depot_id == depot_id)
        for d, dep, billed, collected in session.execute(query):
            cell = _cell(figures, d, dep)
            cell.billed_cents, cell.collected_cents = int(billed or 0), int(collected or 0)
    if "energy" in parts:
        cs = ChargingSession
        wh = func.coalesce(
            cs.energy_wh, func.greatest(0, cs.last_meter_wh - cs.meter_start_wh), literal(0)
        )
        day = _local_day(cs.started_at).label("day")
        query = (
            select(
                day,
                Charger.depot_id,
                func.count(),
                func.sum(wh),
                func.sum(func.coalesce(cs.cost_cents, 0)),
            )
            .join(Charger, Charger.id == cs.charger_id)
            .where(cs.started_at >= since, cs.started_at < until, Charger.depot_id.is_not(None))
            .group_by(text("day"), Charger.depot_id)
        )
        if depot_id:
            query = query.where(Charger.depot_id == depot_id)
        for d, dep, n, w, cost in session.execute(query):
            cell = _cell(figures, d, dep)
            cell.sessions, cell.energy_wh, cell.energy_cost_cents = int(n), int(w or 0), int(cost)
    if "hours" in parts:
        # Each session clipped to the period, in local epoch seconds, cut at hour
        # boundaries with an integer series (much cheaper than a series of timestamps).
        sql = f"""
            WITH s AS (
              SELECT c.depot_id,
                     extract(epoch FROM greatest(cs.started_at, :since) AT TIME ZONE :zone)
                       ::bigint AS a,
                     extract(epoch FROM least(coalesce(cs.stopped_at, now()), :until)
                       AT TIME ZONE :zone)::bigint AS b
              FROM charging_sessions cs JOIN chargers c ON c.id = cs.charger_id
              WHERE cs.started_at < :until
                AND (cs.stopped_at IS NULL OR cs.stopped_at > :since)
                AND c.depot_id IS NOT NULL AND {depot.format("c.depot_id")}
            )
            SELECT k / 24 AS day, depot_id, (k % 24)::int AS hour,
                   sum(least(b, (k + 1) * 3600) - greatest(a, k * 3600))
            FROM s, generate_series(a / 3600, (b - 1) / 3600) AS k
            WHERE b > a
            GROUP BY 1, 2, 3
        """  # noqa: S608 - fixed SQL, parameters bound
        epoch = date(1970, 1, 1)
        for n, dep, hour, seconds in session.execute(text(sql), params):
            _cell(figures, epoch + timedelta(days=int(n)), dep).connector_seconds[hour] = int(
                seconds
            )
    if "bookings" in parts:
        day = _local_day(Booking.window_start).label("day")
        query = (
            select(
                day,
                Booking.depot_id,
                func.count(),
                func.count().filter(Booking.status == BookingStatus.NO_SHOW),
            )
            .where(
                Booking.window_start >= since,
                Booking.window_start < until,
                Booking.status != BookingStatus.CANCELLED,
            )
            .group_by(text("day"), Booking.depot_id)
        )
        if depot_id:
            query = query.where(Booking.depot_id == depot_id)
        for d, dep, n, no_shows in session.execute(query):
            cell = _cell(figures, d, dep)
            cell.bookings, cell.no_shows = int(n), int(no_shows)
    return figures


def rollup_state(session: Session) -> RollupState:
    first, last, computed = session.execute(
        select(func.min(KpiDay.day), func.max(KpiDay.day), func.max(KpiDay.computed_at))
    ).one()
    return RollupState(first, last, computed)


def _rolled_up(
    session: Session, first: date, last: date, depot_id: int | None
) -> dict[Key, DayFigures]:
    query = select(KpiDay.day, KpiDay.depot_id, *(getattr(KpiDay, c) for c in ROLLUP_COLUMNS))
    query = query.where(KpiDay.day.between(first, last))
    if depot_id:
        query = query.where(KpiDay.depot_id == depot_id)
    return {
        (d, dep): DayFigures(**dict(zip(ROLLUP_COLUMNS, values, strict=True)))
        for d, dep, *values in session.execute(query)
    }


def daily_figures(
    session: Session,
    start: date,
    end: date,
    depot_id: int | None,
    parts: frozenset[str] = PARTS,
    *,
    use_rollup: bool = True,
) -> Days:
    """The period's daily figures: the days the rollup holds from it, the others (the
    open day, days since the last refresh, or all of them if it never ran) live."""
    state = rollup_state(session)
    figures: dict[Key, DayFigures] = {}
    live = [(start, end)]
    if use_rollup and state.first_day and state.last_day:
        first, last = max(start, state.first_day), min(end, state.last_day)
        if first <= last:
            figures.update(_rolled_up(session, first, last, depot_id))
            live = [(start, first - timedelta(days=1)), (last + timedelta(days=1), end)]
    live_count = 0
    for a, b in live:
        if a <= b:
            figures.update(live_days(session, a, b, depot_id, parts))
            live_count += (b - a).days + 1
    return Days(figures, state, live_count)


def refresh_kpi_days(session: Session, first: date, last: date, today: date) -> int:
    """Recompute the rollup of the closed days `first`..`last` (days from `today` on are
    left out): replace their rows with one per day and depot (and one for no depot),
    zeros included, so the rollup's days are contiguous. Returns the days written."""
    last = min(last, today - timedelta(days=1))
    if first > last:
        return 0
    figures = live_days(session, first, last, None)
    depots: list[int | None] = [*session.scalars(select(Depot.id).order_by(Depot.id)), None]
    session.execute(delete(KpiDay).where(KpiDay.day.between(first, last)))
    now = datetime.now(UTC)
    rows = []
    for day in _days(first, last):
        for dep in depots:
            cell = figures.get((day, dep), DayFigures())
            rows.append(
                {"day": day, "depot_id": dep, "computed_at": now}
                | {c: getattr(cell, c) for c in ROLLUP_COLUMNS}
            )
    session.execute(insert(KpiDay), rows)
    return (last - first).days + 1


def first_history_day(session: Session) -> date | None:
    """The earliest local day any rolled-up figure comes from."""
    candidates = [
        session.scalar(select(func.min(VehicleDailyKm.day))),
        session.scalar(select(_local_day(func.min(LedgerEntry.posted_at)))),
        session.scalar(select(_local_day(func.min(ChargingSession.started_at)))),
        session.scalar(select(_local_day(func.min(Booking.window_start)))),
    ]
    days = [d for d in candidates if d is not None]
    return min(days) if days else None


def refresh_rollups(session: Session, today: date, recheck_days: int = 7) -> tuple[int, int]:
    """The nightly refresh: the closed days since the last run plus the last
    `recheck_days` (late telemetry, late payments), or the whole history the first time;
    and every contract's early-delinquency outcome. Returns (days, contracts)."""
    state = rollup_state(session)
    if state.last_day is None:
        first = first_history_day(session) or today - timedelta(days=1)
    else:
        first = min(state.last_day + timedelta(days=1), today - timedelta(days=recheck_days))
    days = refresh_kpi_days(session, first, today - timedelta(days=1), today)
    return days, refresh_contract_outcomes(session, today)


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


# The daily figures each panel reads (the others it takes live).
PANEL_PARTS = {
    "fleet": frozenset({"km"}),
    "km": frozenset({"km"}),
    "collections": frozenset({"ledger"}),
    "energy": frozenset({"km", "energy"}),
    "charging": frozenset({"energy", "hours", "bookings"}),
}


def _days_of(
    session: Session, start: date, end: date, depot_id: int | None, panel: str, days: Days | None
) -> Days:
    if days is not None:
        return days
    return daily_figures(session, start, end, depot_id, PANEL_PARTS[panel])


def fleet_utilization(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> FleetPanel:
    days = _days_of(session, start, end, depot_id, "fleet", days)
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
            (d, per_day[d].cars_driven if d in per_day else 0) for d in _days(start, end)
        ],
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


def km_per_car(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> KmPanel:
    days = _days_of(session, start, end, depot_id, "km", days)
    per_day = days.by_day()
    daily = []
    for d in _days(start, end):
        cell = per_day.get(d, DayFigures())
        daily.append((d, float(cell.km) / cell.cars_driven if cell.cars_driven else 0.0))
    total = days.total()
    return KmPanel(km=float(total.km), car_days=total.cars_driven, daily=daily)


# --- collections --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectionsPanel:
    billed_cents: int  # charges posted in the period (net of reversals of charges)
    collected_cents: int  # payments received in the period
    drivers_late: int  # owing today, counted late as of the end of the period
    overdue: list[tuple[tuple[int, int | None], int, int]]  # bucket, cents, drivers
    weekly: list[tuple[date, int, int]]  # week's Monday (or start), billed, collected

    @property
    def collection_rate(self) -> float:
        return self.collected_cents / self.billed_cents if self.billed_cents else 0.0

    @property
    def overdue_cents(self) -> int:
        return sum(cents for _, cents, _ in self.overdue)


def collections_summary(
    session: Session,
    start: date,
    end: date,
    depot_id: int | None,
    days: Days | None = None,
    *,
    live: bool = False,
) -> CollectionsPanel:
    days = _days_of(session, start, end, depot_id, "collections", days)
    _no_jit(session)
    sums: dict[date, tuple[int, int]] = {}
    for d, cell in days.by_day().items():
        week = max(start, monday_of(d))
        billed, collected = sums.get(week, (0, 0))
        sums[week] = (billed + cell.billed_cents, collected + cell.collected_cents)
    weeks = sorted({max(start, monday_of(d)) for d in _days(start, end)})
    weekly = [(w, *sums.get(w, (0, 0))) for w in weeks]
    # Overdue by age: the collections list itself, aggregated by days late. Its
    # balances are today's (the account summary every posting keeps current; `live`
    # recomputes them from the ledger, to the same figures), aged as of the end of the
    # period: for a past period, what is still owed today and how late it was then.
    owing = _query(
        end, depot_id=depot_id, min_days=1, search="", owing_only=True, sort=Sort.DAYS, live=live
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


def energy(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> EnergyPanel:
    """kWh and cost of charging sessions (counted on the local day they started) per depot
    and day; cost per km = that cost over the km the depot's cars drove."""
    days = _days_of(session, start, end, depot_id, "energy", days)
    depots = select(Depot.id, Depot.name).order_by(Depot.name)
    if depot_id:
        depots = depots.where(Depot.id == depot_id)
    per_depot = days.by_depot()
    rows = []
    for dep, name in session.execute(depots):
        cell = per_depot.get(dep, DayFigures())
        rows.append(
            DepotEnergyRow(
                dep,
                name,
                cell.energy_wh / 1000,
                cell.energy_cost_cents,
                cell.sessions,
                float(cell.km),
            )
        )
    per_day = days.by_day()
    daily = []
    for d in _days(start, end):
        cell = per_day.get(d, DayFigures())
        daily.append((d, cell.energy_wh / 1000, cell.energy_cost_cents))
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


def charging(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> ChargingPanel:
    """Connector utilization by local hour of day: the seconds of each hour that sessions
    held a connector, over (connectors x days in the period x 3600)."""
    days = _days_of(session, start, end, depot_id, "charging", days)
    total = days.total()
    connectors_q = select(func.count(ChargerConnector.id)).join(
        Charger, Charger.id == ChargerConnector.charger_id
    )
    if depot_id:
        connectors_q = connectors_q.where(Charger.depot_id == depot_id)
    else:
        connectors_q = connectors_q.where(Charger.depot_id.is_not(None))
    connectors = int(session.scalar(connectors_q) or 0)
    capacity = connectors * ((end - start).days + 1) * 3600
    return ChargingPanel(
        sessions=total.sessions,
        connectors=connectors,
        hourly=[
            (h, min(1.0, total.connector_seconds[h] / capacity) if capacity else 0.0) for h in HOURS
        ],
        bookings=total.bookings,
        no_shows=total.no_shows,
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


# --- early delinquency by cohort ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cohort:
    month: date  # the first of the month the contracts started in
    contracts: int
    judged: int  # observed contracts whose first 26 weeks are over (or that went bad)
    bad: int  # went 30+ days past due within their first 26 weeks
    unobserved: int = 0  # started before the ledger's history: their weeks are not in it

    @property
    def too_young(self) -> bool:
        """Some contracts are still in their first 26 weeks: the rate would be partial."""
        return self.judged < self.contracts - self.unobserved

    @property
    def rate(self) -> float | None:
        """Over the contracts the ledger saw; None while too young or if it saw none."""
        return None if self.too_young or not self.judged else self.bad / self.judged


@dataclass(frozen=True, slots=True)
class DelinquencyPanel:
    cohorts: list[Cohort]  # oldest first
    computed_at: datetime | None  # when the outcomes were refreshed; None: live now


def refresh_contract_outcomes(session: Session, today: date) -> int:
    """Recompute every contract's early-delinquency outcome (`credit.contract_outcomes`,
    the definition the labelled-outcomes export uses) and replace the stored ones."""
    outcomes = contract_outcomes(session, today)
    session.execute(delete(KpiContractOutcome))
    now = datetime.now(UTC)
    if outcomes:
        session.execute(
            insert(KpiContractOutcome),
            [
                {"contract_id": c, "went_bad": bad, "computed_at": now}
                for c, bad in outcomes.items()
            ],
        )
    return len(outcomes)


def early_delinquency(
    session: Session, end: date, depot_id: int | None, months: int = COHORT_MONTHS
) -> DelinquencyPanel:
    """Contracts by the month they started (the `months` months up to `end`'s), and how
    many went 30+ days past due within their first 26 weeks. Reads the outcomes the
    nightly job stored; computes them live if it never ran. A contract started since the
    last refresh counts as not yet judged."""
    computed_at = session.scalar(select(func.max(KpiContractOutcome.computed_at)))
    if computed_at is None:
        outcomes = contract_outcomes(session, local_today())
    else:
        outcomes = {
            contract_id: went_bad
            for contract_id, went_bad in session.execute(
                select(KpiContractOutcome.contract_id, KpiContractOutcome.went_bad)
            )
        }
    last = end.replace(day=1)
    first = last
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    # A contract is observed if the ledger has its driver's entries from its first week
    # (its first rent): one probe of the (driver, posted_at) index per contract.
    observed = (
        select(LedgerEntry.id)
        .where(
            LedgerEntry.driver_id == Contract.driver_id,
            LedgerEntry.posted_at
            < func.timezone(ZONE_NAME, cast(Contract.starts_on + 7, DateTime)),
        )
        .exists()
    )
    query = select(Contract.id, Contract.starts_on, observed).where(
        Contract.starts_on >= first, Contract.starts_on <= end
    )
    if depot_id:
        query = query.join(Vehicle, Vehicle.id == Contract.vehicle_id).where(
            Vehicle.depot_id == depot_id
        )
    counts: dict[date, list[int]] = {}
    for contract_id, starts_on, seen in session.execute(query):
        cell = counts.setdefault(starts_on.replace(day=1), [0, 0, 0, 0])
        outcome = outcomes.get(contract_id) if seen else None
        cell[0] += 1
        cell[1] += outcome is not None
        cell[2] += outcome is True
        cell[3] += not seen
    cohorts = []
    month = first
    while month <= last:
        cohorts.append(Cohort(month, *counts.get(month, [0, 0, 0, 0])))
        month = (month + timedelta(days=32)).replace(day=1)
    return DelinquencyPanel(cohorts, computed_at)


PANELS = ("fleet", "km", "collections", "energy", "charging", "incidents", "credit")

__all__ = [
    "AGE_BUCKETS",
    "BAD_DAYS_PAST_DUE",
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
