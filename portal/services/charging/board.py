"""Reads for the depot's charger board, a charger's detail, and energy per depot per day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.models import (
    LIVE_BOOKING_STATUSES,
    Booking,
    Charger,
    ChargerConnector,
    ChargingSession,
    Depot,
    SessionStatus,
)


@dataclass(frozen=True, slots=True)
class ConnectorView:
    connector: ChargerConnector
    session: ChargingSession | None  # the one running on it
    booking: Booking | None  # the live booking on it now, or the next one today


@dataclass(frozen=True, slots=True)
class ChargerView:
    charger: Charger
    online: bool
    connectors: list[ConnectorView]
    loose_sessions: list[ChargingSession]  # running, but on no known connector


def depot_board(session: Session, depot_id: int, now: datetime) -> list[ChargerView]:
    """Every charger of the depot with its connectors, what runs on them and who is next."""
    chargers = list(
        session.scalars(
            select(Charger)
            .options(selectinload(Charger.connectors))
            .where(Charger.depot_id == depot_id)
            .order_by(Charger.identity)
        )
    )
    ids = [c.id for c in chargers]
    running = list(
        session.scalars(
            select(ChargingSession)
            .options(joinedload(ChargingSession.driver), joinedload(ChargingSession.vehicle))
            .where(
                ChargingSession.charger_id.in_(ids),
                ChargingSession.status == SessionStatus.ACTIVE,
            )
            .order_by(ChargingSession.started_at)
        )
    )
    depot = session.get(Depot, depot_id)
    zone = ZoneInfo(depot.timezone if depot else "America/Mexico_City")
    day_end = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(0), zone)
    upcoming = list(
        session.scalars(
            select(Booking)
            .options(joinedload(Booking.driver))
            .where(
                Booking.charger_id.in_(ids),
                Booking.status.in_(LIVE_BOOKING_STATUSES),
                Booking.window_end > now,
                Booking.window_start < day_end,
            )
            .order_by(Booking.window_start)
        )
    )
    views = []
    for charger in chargers:
        mine = [s for s in running if s.charger_id == charger.id]
        rows = []
        for connector in charger.connectors:
            on_it = next(
                (
                    s
                    for s in mine
                    if s.connector_id == connector.id
                    or (s.connector_id is None and s.evse_id == connector.evse_id)
                ),
                None,
            )
            booking = next((b for b in upcoming if b.connector_id == connector.id), None)
            rows.append(ConnectorView(connector, on_it, booking))
        placed = {r.session.id for r in rows if r.session is not None}
        loose = [s for s in mine if s.id not in placed]
        views.append(ChargerView(charger, charger.is_online(now), rows, loose))
    return views


def get_charger(session: Session, charger_id: int) -> Charger | None:
    return session.scalar(
        select(Charger)
        .options(selectinload(Charger.connectors), joinedload(Charger.depot))
        .where(Charger.id == charger_id)
    )


def recent_sessions(session: Session, charger_id: int, limit: int = 10) -> list[ChargingSession]:
    return list(
        session.scalars(
            select(ChargingSession)
            .options(joinedload(ChargingSession.driver))
            .where(ChargingSession.charger_id == charger_id)
            .order_by(ChargingSession.started_at.desc())
            .limit(limit)
        )
    )


# --- energy per depot per day ---------------------------------------------------------


@dataclass(slots=True)
class DayEnergy:
    day: date
    wh: int = 0
    cost_cents: int = 0
    sessions: int = 0

    @property
    def kwh(self) -> float:
        return self.wh / 1000


@dataclass(slots=True)
class DepotEnergy:
    depot: Depot
    days: list[DayEnergy] = field(default_factory=list)

    @property
    def wh(self) -> int:
        return sum(d.wh for d in self.days)

    @property
    def kwh(self) -> float:
        return self.wh / 1000

    @property
    def cost_cents(self) -> int:
        return sum(d.cost_cents for d in self.days)

    @property
    def sessions(self) -> int:
        return sum(d.sessions for d in self.days)


def energy_by_depot_day(
    session: Session, *, today: date, days: int = 14, zone: ZoneInfo
) -> list[DepotEnergy]:
    """kWh delivered, what drivers were charged, and sessions, per depot and local day,
    for the `days` days up to `today`. A session counts on the day it started; a running
    session counts its energy so far (no cost until it stops)."""
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(0), zone)
    until = datetime.combine(today + timedelta(days=1), time(0), zone)
    rows = session.execute(
        select(
            Charger.depot_id,
            ChargingSession.started_at,
            ChargingSession.energy_wh,
            ChargingSession.meter_start_wh,
            ChargingSession.last_meter_wh,
            ChargingSession.cost_cents,
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(
            Charger.depot_id.is_not(None),
            ChargingSession.started_at >= since,
            ChargingSession.started_at < until,
        )
    ).all()
    totals: dict[tuple[int | None, date], DayEnergy] = {}
    for depot_id, started_at, energy_wh, start_wh, last_wh, cost in rows:
        day = started_at.astimezone(zone).date()
        cell = totals.setdefault((depot_id, day), DayEnergy(day))
        if energy_wh is None and start_wh is not None and last_wh is not None:
            energy_wh = max(0, last_wh - start_wh)
        cell.wh += energy_wh or 0
        cell.cost_cents += cost or 0
        cell.sessions += 1
    by_depot: dict[int, list[DayEnergy]] = defaultdict(list)
    depots = list(session.scalars(select(Depot).order_by(Depot.name)))
    for depot in depots:
        for n in range(days):
            day = first + timedelta(days=n)
            by_depot[depot.id].append(totals.get((depot.id, day), DayEnergy(day)))
    return [DepotEnergy(depot, by_depot[depot.id]) for depot in depots]
