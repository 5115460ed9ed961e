"""A driver's charging: the session running now, their history, starting or stopping
a session from the phone (remote start/stop through the command log), and how full they
want their car when the depot plans its charging (`set_charge_target`).

Every read and write is scoped to the driver: a session or command that is not
theirs is simply not found (the view answers 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.models import (
    Booking,
    BookingStatus,
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargingSession,
    CommandAction,
    ConnectorStatus,
    Contract,
    ContractStatus,
    Driver,
    SessionStatus,
)
from portal.services import N_, DomainError, FieldError
from portal.services.charging.bookings import driver_id_tag
from portal.services.charging.commands import request_command

TARGET_CHOICES = (80, 90, 100)  # what the phone offers (%); the policy's 90 among them
TARGET_RANGE = range(50, 101)

READY = (ConnectorStatus.PREPARING, ConnectorStatus.AVAILABLE)
"""Connector statuses a remote start can use, best first (PREPARING: a car is plugged)."""


def active_session(session: Session, driver_id: int) -> ChargingSession | None:
    return session.scalar(
        select(ChargingSession)
        .options(joinedload(ChargingSession.charger), joinedload(ChargingSession.connector))
        .where(
            ChargingSession.driver_id == driver_id,
            ChargingSession.status == SessionStatus.ACTIVE,
        )
        .order_by(ChargingSession.started_at.desc())
        .limit(1)
    )


def session_history(session: Session, driver_id: int, limit: int = 10) -> list[ChargingSession]:
    return list(
        session.scalars(
            select(ChargingSession)
            .options(joinedload(ChargingSession.charger).joinedload(Charger.depot))
            .where(
                ChargingSession.driver_id == driver_id,
                ChargingSession.status != SessionStatus.ACTIVE,  # completed or lost
            )
            .order_by(ChargingSession.started_at.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class StartChoice:
    charger: Charger
    connector: ChargerConnector
    booking: Booking | None


def choose_connector(
    session: Session, driver_id: int, depot_id: int, *, now: datetime, early: timedelta
) -> StartChoice:
    """Where the driver's remote start goes: their booking's connector when its window is
    open (or opens within `early`), else a ready connector of their car's type at the
    depot on an online charger that nobody else has booked for now."""
    contract = session.scalar(
        select(Contract)
        .options(joinedload(Contract.vehicle))
        .where(Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE)
    )
    if contract is None:
        raise DomainError(N_("You need an active contract to charge."))
    connector_type = contract.vehicle.connector_type
    booking = session.scalar(
        select(Booking)
        .options(joinedload(Booking.connector).joinedload(ChargerConnector.charger))
        .where(
            Booking.driver_id == driver_id,
            Booking.depot_id == depot_id,
            Booking.status.in_((BookingStatus.BOOKED, BookingStatus.RESERVED)),
            Booking.window_start - early <= now,
            Booking.window_end > now,
        )
        .order_by(Booking.window_start)
        .limit(1)
    )
    if booking is not None and booking.connector is not None:
        connector = booking.connector
        if connector.charger.is_online(now):
            return StartChoice(connector.charger, connector, booking)
    held_by_others = set(
        session.scalars(
            select(Booking.connector_id).where(
                Booking.depot_id == depot_id,
                Booking.driver_id != driver_id,
                Booking.status.in_((BookingStatus.BOOKED, BookingStatus.RESERVED)),
                Booking.window_start - early <= now,
                Booking.window_end > now,
            )
        )
    )
    candidates = session.scalars(
        select(ChargerConnector)
        .join(Charger, Charger.id == ChargerConnector.charger_id)
        .options(joinedload(ChargerConnector.charger))
        .where(
            Charger.depot_id == depot_id,
            ChargerConnector.connector_type == connector_type,
            ChargerConnector.status.in_(READY),
        )
        .order_by(Charger.identity, ChargerConnector.evse_id)
    ).all()
    ready = [c for c in candidates if c.charger.is_online(now) and c.id not in held_by_others]
    if not ready:
        raise DomainError(
            N_("There is no free connector for your car at this depot right now. Book a slot.")
        )
    ready.sort(key=lambda c: READY.index(c.status))
    return StartChoice(ready[0].charger, ready[0], None)


def start_charging(
    session: Session,
    driver_id: int,
    depot_id: int,
    *,
    user_id: int,
    now: datetime,
    early: timedelta,
) -> ChargerCommand:
    """Ask a charger to start a session for the driver (RemoteStart with their id tag).

    Returns the logged command (enqueue it after the commit); it is already `failed`
    when the charger is offline."""

    if active_session(session, driver_id) is not None:
        raise DomainError(N_("You are already charging."))
    tag = driver_id_tag(session, driver_id)
    if tag is None:
        raise DomainError(N_("You have no charging card yet. Ask for one at your depot."))
    choice = choose_connector(session, driver_id, depot_id, now=now, early=early)
    return request_command(
        session,
        choice.charger.id,
        CommandAction.REMOTE_START,
        {"id_tag": tag.tag, "evse_id": choice.connector.evse_id},
        user_id,
    )


def get_driver_session(session: Session, session_id: int, driver_id: int) -> ChargingSession | None:
    return session.scalar(
        select(ChargingSession).where(
            ChargingSession.id == session_id, ChargingSession.driver_id == driver_id
        )
    )


def stop_charging(
    session: Session, charging_session: ChargingSession, *, user_id: int
) -> ChargerCommand:
    """Ask the charger to stop the driver's own session (the view checked whose it is)."""

    if charging_session.status != SessionStatus.ACTIVE:
        raise DomainError(N_("This charging session has already ended."))
    return request_command(
        session,
        charging_session.charger_id,
        CommandAction.REMOTE_STOP,
        {"session_id": charging_session.id},
        user_id,
    )


def get_user_command(session: Session, command_id: int, user_id: int) -> ChargerCommand | None:
    """A command this user asked for (for polling its progress), else None."""
    command = session.get(ChargerCommand, command_id, populate_existing=True)
    if command is None or command.requested_by_id != user_id:
        return None
    return command


def set_charge_target(session: Session, driver_id: int, pct: int) -> Driver:
    """How full (% of the battery) the driver wants their car when smart charging plans
    it; the depot's next plan charges it to that. Flushes."""
    if pct not in TARGET_RANGE:
        raise FieldError(
            "target",
            N_("Choose how full you want your car, from %(low)s to %(high)s %%."),
            low=TARGET_RANGE.start,
            high=TARGET_RANGE.stop - 1,
        )
    driver = session.get(Driver, driver_id)
    if driver is None:
        raise DomainError(N_("Driver not found."))
    driver.charge_target_pct = pct
    session.flush()
    return driver
