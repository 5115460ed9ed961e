"""Daily figures: the rollup of closed days (`kpi_daily`, refreshed nightly) and the open
day(s) computed live by the same function, so the two paths cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from portal import clock
from portal.models import (
    Booking,
    BookingStatus,
    Charger,
    ChargingSession,
    Contract,
    Depot,
    EntryKind,
    KpiDay,
    LedgerEntry,
    Vehicle,
    VehicleDailyKm,
)
from portal.services.kpis.credit import refresh_contract_outcomes
from portal.services.kpis.period import ZONE_NAME, each_day, local_day, no_jit, period_bounds

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
    no_jit(session)
    since, until = period_bounds(first, last)
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
        day = local_day(le.posted_at).label("day")
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
        day = local_day(cs.started_at).label("day")
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
        day = local_day(Booking.window_start).label("day")
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
    now = clock.now()
    rows = []
    for day in each_day(first, last):
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
        session.scalar(select(local_day(func.min(LedgerEntry.posted_at)))),
        session.scalar(select(local_day(func.min(ChargingSession.started_at)))),
        session.scalar(select(local_day(func.min(Booking.window_start)))),
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


# The daily figures each panel reads (the others it takes live).
PANEL_PARTS = {
    "fleet": frozenset({"km"}),
    "km": frozenset({"km"}),
    "collections": frozenset({"ledger"}),
    "energy": frozenset({"km", "energy"}),
    "charging": frozenset({"energy", "hours", "bookings"}),
}


def panel_days(
    session: Session, start: date, end: date, depot_id: int | None, panel: str, days: Days | None
) -> Days:
    if days is not None:
        return days
    return daily_figures(session, start, end, depot_id, PANEL_PARTS[panel])
