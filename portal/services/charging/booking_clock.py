"""The booking clock: bookings follow their driver's charging sessions, a connector is
reserved on the charger (OCPP ReserveNow) when a booking's window opens, and bookings
whose driver does not come are released (CancelReservation). The jobs in
`workers.bookings` run it; the caller enqueues the returned commands after its commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from portal.models import (
    Booking,
    BookingStatus,
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargingSession,
    CommandAction,
    SessionStatus,
)
from portal.services.charging.bookings import (
    BUSY,
    cancel_reservation,
    driver_id_tag,
    live_bookings,
    usable_connectors,
)
from portal.services.charging.commands import request_command


def sync_with_sessions(session: Session, *, now: datetime, early: timedelta) -> list[Booking]:
    """Mark bookings charging when their driver's session started at the depot during
    the window (or `early` before it), and completed when that session ended."""
    changed = []
    opening = list(
        session.scalars(
            select(Booking).where(
                Booking.status.in_((BookingStatus.BOOKED, BookingStatus.RESERVED)),
                Booking.window_start - early <= now,
                Booking.window_end > now - early,
            )
        )
    )
    for booking in opening:
        whose = [ChargingSession.driver_id == booking.driver_id]
        if booking.reservation_id is not None:
            whose.append(ChargingSession.reservation_id == booking.reservation_id)
        started = session.scalar(
            select(ChargingSession)
            .join(Charger, Charger.id == ChargingSession.charger_id)
            .where(
                Charger.depot_id == booking.depot_id,
                ChargingSession.started_at >= booking.window_start - early,
                ChargingSession.started_at < booking.window_end,
                # the driver's own session, or one started on the reservation (ReserveNow)
                or_(*whose),
            )
            .order_by(ChargingSession.started_at)
            .limit(1)
        )
        if started is not None:
            booking.status = BookingStatus.CHARGING
            booking.session_id = started.id
            changed.append(booking)
    charging = session.scalars(
        select(Booking)
        .join(ChargingSession, ChargingSession.id == Booking.session_id)
        .where(
            Booking.status == BookingStatus.CHARGING,
            ChargingSession.status != SessionStatus.ACTIVE,  # completed or lost
        )
    )
    for booking in charging:
        booking.status = BookingStatus.COMPLETED
        booking.released_at = booking.session.stopped_at if booking.session else now
        changed.append(booking)
    session.flush()
    return changed


def release_no_shows(
    session: Session, now: datetime, grace: timedelta
) -> tuple[list[Booking], list[ChargerCommand]]:
    """Release bookings whose driver did not start charging within `grace` of the window
    opening. Returns the released bookings and the CancelReservation commands to enqueue
    after the commit (for the connectors that had been reserved on the charger)."""
    sync_with_sessions(session, now=now, early=grace)
    late = list(
        session.scalars(
            select(Booking)
            .where(
                Booking.status.in_((BookingStatus.BOOKED, BookingStatus.RESERVED)),
                Booking.window_start + grace <= now,
            )
            .order_by(Booking.id)
            .with_for_update(skip_locked=True)
        )
    )
    commands = []
    for booking in late:
        was_reserved = booking.status == BookingStatus.RESERVED
        booking.status = BookingStatus.NO_SHOW
        booking.released_at = now
        session.flush()
        if was_reserved:
            command = cancel_reservation(session, booking)
            if command is not None:
                commands.append(command)
    return late, commands


def reserve_opening_windows(
    session: Session, now: datetime, *, lead: timedelta = timedelta(0)
) -> list[ChargerCommand]:
    """Ask the charger to hold the connector (ReserveNow) for every booking whose window
    opens (within `lead` of now). Returns the commands; enqueue the queued ones after the
    commit. A booking whose driver has no active id tag stays `booked`: its connector is
    still held in our books, and remote start (which needs a tag too) is refused."""

    opening = list(
        session.scalars(
            select(Booking)
            .options(joinedload(Booking.connector).joinedload(ChargerConnector.charger))
            .where(
                Booking.status == BookingStatus.BOOKED,
                Booking.window_start <= now + lead,
                Booking.window_end > now,
            )
            .order_by(Booking.window_start, Booking.id)
            .with_for_update(of=Booking, skip_locked=True)
        )
    )
    commands = []
    for booking in opening:
        tag = driver_id_tag(session, booking.driver_id)
        if tag is None:
            continue
        connector = _connector_for_reservation(session, booking, now)
        if connector is None:
            continue
        booking.status = BookingStatus.RESERVED
        booking.reservation_id = booking.id
        booking.reserved_at = now
        session.flush()
        expires = max(booking.window_start, now) + timedelta(minutes=30)
        expires = min(expires, booking.window_end)
        command = request_command(
            session,
            connector.charger_id,
            CommandAction.RESERVE_NOW,
            {
                "evse_id": connector.evse_id,
                "id_tag": tag.tag,
                "expires_at": expires.isoformat(),
                "reservation_id": booking.reservation_id,
            },
            None,
        )
        booking.reserve_command_id = command.id
        commands.append(command)
    session.flush()
    return commands


def _connector_for_reservation(
    session: Session, booking: Booking, now: datetime
) -> ChargerConnector | None:
    """The booking's connector, or (when its charger is offline or the connector busy) a
    free one of the same type at the depot, moved to under the exclusion constraint."""
    current = booking.connector
    if current is not None and current.charger.is_online(now) and current.status not in BUSY:
        return current
    candidates = [
        c
        for c in usable_connectors(session, booking.depot_id, booking.connector_type)
        if c.charger.is_online(now) and c.status not in BUSY and c.id != booking.connector_id
    ]
    taken = {
        b.connector_id
        for b in live_bookings(
            session, [c.id for c in candidates], booking.window_start, booking.window_end
        )
    }
    for candidate in candidates:
        if candidate.id in taken:
            continue
        try:
            with session.begin_nested():
                booking.connector_id = candidate.id
                booking.charger_id = candidate.charger_id
                session.flush()
        except IntegrityError:
            continue
        return candidate
    return current  # nothing better: try the assigned one (fails fast if offline)
