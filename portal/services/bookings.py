"""Charging bookings: slots a driver can book, the limits, cancelling, and the clock
that reserves a connector when a window opens and releases no-shows.

A slot is `BookingRules.slot_minutes` long, on the hour grid of the depot's time zone
between `open_hour` and `close_hour`, today or tomorrow. Its capacity is the number of
connectors of the driver's type on the depot's accepted chargers (faulted ones left
out). Booking assigns one of those connectors at once, so the database refuses a
second live booking on it for an overlapping window (exclusion constraint
`no_overlap_on_connector`); the service also locks the driver's and the depot's rows,
so limits are counted and connectors chosen one booking at a time.

Reservation on the charger (OCPP ReserveNow, `reservation_id` = the booking's id) is
asked for when the window opens, by `reserve_opening_windows`; the caller enqueues the
returned commands after its commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from portal.models import (
    LIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    ConnectorStatus,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    IdTag,
    SessionStatus,
)

from . import N_, DomainError, audit

UNUSABLE = frozenset({ConnectorStatus.FAULTED})
"""Connector statuses that take a connector out of the slots offered."""

BUSY = frozenset(
    {
        ConnectorStatus.CHARGING,
        ConnectorStatus.PREPARING,
        ConnectorStatus.SUSPENDED_EV,
        ConnectorStatus.SUSPENDED_EVSE,
        ConnectorStatus.FINISHING,
        ConnectorStatus.OCCUPIED,
        ConnectorStatus.UNAVAILABLE,
        ConnectorStatus.FAULTED,
    }
)
"""Connector statuses in which a new reservation cannot be placed on it."""


@dataclass(frozen=True, slots=True)
class BookingRules:
    """The booking policy; built from the app's settings by `rules_from_config`."""

    slot_minutes: int = 60
    open_hour: int = 6  # first slot starts at 06:00 local time
    close_hour: int = 23  # last slot ends at 23:00
    max_future: int = 2  # live bookings not yet over, per driver
    max_per_day: int = 1  # bookings (not cancelled) per local day, per driver
    no_show_grace: timedelta = timedelta(minutes=15)
    min_remaining: timedelta = timedelta(minutes=20)  # a slot still offered if this much is left

    def __post_init__(self) -> None:
        if not 0 < self.slot_minutes <= 240 or (24 * 60) % self.slot_minutes:
            raise ValueError("slot_minutes must divide a day and be at most 240")
        if not 0 <= self.open_hour < self.close_hour <= 24:
            raise ValueError("open_hour must come before close_hour")


def rules_from_config(config: Mapping[str, Any]) -> BookingRules:
    defaults = BookingRules()
    return BookingRules(
        slot_minutes=int(config.get("BOOKING_SLOT_MINUTES", defaults.slot_minutes)),
        open_hour=int(config.get("BOOKING_OPEN_HOUR", defaults.open_hour)),
        close_hour=int(config.get("BOOKING_CLOSE_HOUR", defaults.close_hour)),
        max_future=int(config.get("BOOKING_MAX_FUTURE", defaults.max_future)),
        max_per_day=int(config.get("BOOKING_MAX_PER_DAY", defaults.max_per_day)),
        no_show_grace=timedelta(
            minutes=int(
                config.get(
                    "BOOKING_NO_SHOW_GRACE_MINUTES", defaults.no_show_grace.total_seconds() // 60
                )
            )
        ),
    )


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # UTC
    end: datetime  # UTC
    capacity: int
    free: int

    @property
    def available(self) -> bool:
        return self.free > 0


# --- reads ---------------------------------------------------------------------------


def depot_zone(depot: Depot) -> ZoneInfo:
    return ZoneInfo(depot.timezone or "America/Mexico_City")


def bookable_days(depot: Depot, now: datetime) -> tuple[date, date]:
    """Today and tomorrow in the depot's time zone."""
    today = now.astimezone(depot_zone(depot)).date()
    return today, today + timedelta(days=1)


def _slot_grid(depot: Depot, day: date, rules: BookingRules) -> list[tuple[datetime, datetime]]:
    zone = depot_zone(depot)
    start = datetime.combine(day, time(rules.open_hour), tzinfo=zone)
    close = (
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        if rules.close_hour == 24
        else datetime.combine(day, time(rules.close_hour), tzinfo=zone)
    )
    step = timedelta(minutes=rules.slot_minutes)
    grid = []
    while start + step <= close:
        # Wall-clock arithmetic, converted one slot at a time (a DST change, where a
        # zone still has one, shortens or lengthens one slot rather than shifting all).
        end = start + step
        grid.append((start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))))
        start = end
    return grid


def _usable_connectors(
    session: Session, depot_id: int, connector_type: ConnectorType
) -> list[ChargerConnector]:
    return list(
        session.scalars(
            select(ChargerConnector)
            .join(Charger, Charger.id == ChargerConnector.charger_id)
            .options(joinedload(ChargerConnector.charger))
            .where(
                Charger.depot_id == depot_id,
                Charger.registration == ChargerRegistration.ACCEPTED,
                ChargerConnector.connector_type == connector_type,
                ChargerConnector.status.not_in(UNUSABLE),
            )
            .order_by(Charger.identity, ChargerConnector.evse_id, ChargerConnector.connector_id)
        )
    )


def _live_bookings(
    session: Session, connector_ids: list[int], start: datetime, end: datetime
) -> list[Booking]:
    if not connector_ids:
        return []
    return list(
        session.scalars(
            select(Booking).where(
                Booking.connector_id.in_(connector_ids),
                Booking.status.in_(LIVE_BOOKING_STATUSES),
                Booking.window_start < end,
                Booking.window_end > start,
            )
        )
    )


def list_available_slots(
    session: Session,
    depot_id: int,
    connector_type: ConnectorType,
    day: date,
    *,
    now: datetime,
    rules: BookingRules | None = None,
) -> list[Slot]:
    """The slots of `day` (today or tomorrow at the depot) still ahead, with their room."""
    rules = rules or BookingRules()
    depot = _depot(session, depot_id)
    if day not in bookable_days(depot, now):
        raise DomainError(N_("You can book for today or tomorrow only."))
    grid = [(s, e) for s, e in _slot_grid(depot, day, rules) if e - now >= rules.min_remaining]
    if not grid:
        return []
    connectors = _usable_connectors(session, depot_id, connector_type)
    ids = [c.id for c in connectors]
    taken = _live_bookings(session, ids, grid[0][0], grid[-1][1])
    slots = []
    for start, end in grid:
        busy = {b.connector_id for b in taken if b.window_start < end and b.window_end > start}
        slots.append(Slot(start, end, capacity=len(ids), free=len(ids) - len(busy)))
    return slots


def list_driver_bookings(
    session: Session, driver_id: int, *, now: datetime, upcoming: bool = True, limit: int = 20
) -> list[Booking]:
    """A driver's live bookings not yet over (upcoming), or their past ones (newest first)."""
    query = select(Booking).options(
        joinedload(Booking.depot),
        joinedload(Booking.connector).joinedload(ChargerConnector.charger),
    )
    if upcoming:
        query = query.where(
            Booking.driver_id == driver_id,
            Booking.status.in_(LIVE_BOOKING_STATUSES),
            Booking.window_end > now,
        ).order_by(Booking.window_start)
    else:
        query = (
            query.where(Booking.driver_id == driver_id, Booking.window_start <= now)
            .where(Booking.status.not_in(LIVE_BOOKING_STATUSES) | (Booking.window_end <= now))
            .order_by(Booking.window_start.desc())
        )
    return list(session.scalars(query.limit(limit)))


def get_driver_booking(session: Session, booking_id: int, driver_id: int) -> Booking | None:
    """The booking if it is this driver's (else None: the view answers 404)."""
    return session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.driver_id == driver_id)
    )


def list_depot_bookings(session: Session, depot_id: int, day: date) -> list[Booking]:
    """Every booking of a depot's local day, for the staff board."""
    depot = _depot(session, depot_id)
    zone = depot_zone(depot)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return list(
        session.scalars(
            select(Booking)
            .options(
                joinedload(Booking.driver),
                joinedload(Booking.vehicle),
                joinedload(Booking.connector).joinedload(ChargerConnector.charger),
            )
            .where(
                Booking.depot_id == depot_id,
                Booking.window_start >= start,
                Booking.window_start < end,
            )
            .order_by(Booking.window_start, Booking.id)
        )
    )


# --- writes --------------------------------------------------------------------------


def book_slot(
    session: Session,
    driver_id: int,
    depot_id: int,
    window_start: datetime,
    *,
    now: datetime,
    rules: BookingRules | None = None,
) -> Booking:
    """Book the slot starting at `window_start` for the driver's car; flushes."""
    rules = rules or BookingRules()
    # Lock the driver, then the depot (always in this order): a driver's limits are
    # counted, and a depot's connectors chosen, by one booking at a time.
    driver = session.scalar(select(Driver).where(Driver.id == driver_id).with_for_update())
    if driver is None:
        raise DomainError(N_("That driver does not exist."))
    depot = session.scalar(select(Depot).where(Depot.id == depot_id).with_for_update())
    if depot is None:
        raise DomainError(N_("That depot does not exist."))
    contract = session.scalar(
        select(Contract)
        .options(joinedload(Contract.vehicle))
        .where(Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE)
    )
    if contract is None:
        raise DomainError(N_("You need an active contract to book a charging slot."))
    connector_type = contract.vehicle.connector_type

    window = _find_slot(depot, window_start, now, rules)
    if window is None:
        raise DomainError(N_("That slot is not on offer; choose one from the list."))
    start, end = window
    _check_limits(session, driver_id, depot, start, end, now, rules)

    connectors = _usable_connectors(session, depot_id, connector_type)
    taken = {
        b.connector_id for b in _live_bookings(session, [c.id for c in connectors], start, end)
    }
    free = [c for c in connectors if c.id not in taken]
    if not free:
        raise DomainError(N_("That slot is full; choose another one."))
    connector = _least_booked(session, free, depot, start)
    booking = Booking(
        driver_id=driver_id,
        vehicle_id=contract.vehicle_id,
        depot_id=depot_id,
        connector_type=connector_type,
        charger_id=connector.charger_id,
        connector_id=connector.id,
        window_start=start,
        window_end=end,
        status=BookingStatus.BOOKED,
    )
    try:
        with session.begin_nested():
            session.add(booking)
    except IntegrityError:  # no_overlap_on_connector: someone got there first
        raise DomainError(N_("That slot is full; choose another one.")) from None
    return booking


def _find_slot(
    depot: Depot, window_start: datetime, now: datetime, rules: BookingRules
) -> tuple[datetime, datetime] | None:
    if window_start.tzinfo is None:
        return None
    for day in bookable_days(depot, now):
        for start, end in _slot_grid(depot, day, rules):
            if start == window_start and end - now >= rules.min_remaining:
                return start, end
    return None


def _check_limits(
    session: Session,
    driver_id: int,
    depot: Depot,
    start: datetime,
    end: datetime,
    now: datetime,
    rules: BookingRules,
) -> None:
    live = list(
        session.scalars(
            select(Booking).where(
                Booking.driver_id == driver_id,
                Booking.status.in_(LIVE_BOOKING_STATUSES),
                Booking.window_end > now,
            )
        )
    )
    if any(b.window_start < end and b.window_end > start for b in live):
        raise DomainError(N_("You already have a booking at that time."))
    if len(live) >= rules.max_future:
        raise DomainError(
            N_("You can have at most %(count)s upcoming bookings. Cancel one to book another."),
            count=rules.max_future,
        )
    zone = depot_zone(depot)
    day = start.astimezone(zone).date()
    day_start = datetime.combine(day, time(0), tzinfo=zone)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    same_day = (
        session.scalar(
            select(func.count(Booking.id)).where(
                Booking.driver_id == driver_id,
                Booking.status != BookingStatus.CANCELLED,
                Booking.window_start >= day_start,
                Booking.window_start < day_end,
            )
        )
        or 0
    )
    if same_day >= rules.max_per_day:
        raise DomainError(
            N_("You can book at most %(count)s charging slots per day."), count=rules.max_per_day
        )


def _least_booked(
    session: Session, free: list[ChargerConnector], depot: Depot, start: datetime
) -> ChargerConnector:
    """Spread a day's bookings over the connectors; ties go to the first in order."""
    zone = depot_zone(depot)
    day = start.astimezone(zone).date()
    counts = dict(
        session.execute(
            select(Booking.connector_id, func.count(Booking.id))
            .where(
                Booking.connector_id.in_([c.id for c in free]),
                Booking.status.in_(LIVE_BOOKING_STATUSES),
                Booking.window_start >= datetime.combine(day, time(0), tzinfo=zone),
                Booking.window_start < datetime.combine(day + timedelta(1), time(0), tzinfo=zone),
            )
            .group_by(Booking.connector_id)
        ).all()
    )
    return min(free, key=lambda c: counts.get(c.id, 0))


def cancel_booking(
    session: Session, booking: Booking, *, now: datetime, actor_id: int | None = None
) -> ChargerCommand | None:
    """Cancel a booking that has not started charging; flushes.

    Returns the CancelReservation command to enqueue after the commit when the
    connector was already reserved on the charger, else None.
    """
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.RESERVED):
        raise DomainError(N_("This booking can no longer be cancelled."))
    if booking.window_end <= now:
        raise DomainError(N_("This booking can no longer be cancelled."))
    was_reserved = booking.status == BookingStatus.RESERVED
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    session.flush()
    if actor_id is not None:
        audit.record(session, actor_id, "booking.cancelled", booking)
    return _cancel_reservation(session, booking) if was_reserved else None


def _cancel_reservation(session: Session, booking: Booking) -> ChargerCommand | None:
    from portal.services.charging import request_command

    if booking.charger_id is None or booking.reservation_id is None:
        return None
    try:
        return request_command(
            session,
            booking.charger_id,
            CommandAction.CANCEL_RESERVATION,
            {"reservation_id": booking.reservation_id},
            None,
        )
    except DomainError:
        return None  # the charger is gone or not approved: nothing to cancel there


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
            command = _cancel_reservation(session, booking)
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
    from portal.services.charging import request_command

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
        for c in _usable_connectors(session, booking.depot_id, booking.connector_type)
        if c.charger.is_online(now) and c.status not in BUSY and c.id != booking.connector_id
    ]
    taken = {
        b.connector_id
        for b in _live_bookings(
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


def driver_id_tag(session: Session, driver_id: int) -> IdTag | None:
    """The driver's active id tag (the oldest one), used for remote start and ReserveNow."""
    return session.scalar(
        select(IdTag)
        .where(IdTag.driver_id == driver_id, IdTag.active.is_(True))
        .order_by(IdTag.id)
        .limit(1)
    )


def _depot(session: Session, depot_id: int) -> Depot:
    depot = session.get(Depot, depot_id)
    if depot is None:
        raise DomainError(N_("That depot does not exist."))
    return depot
