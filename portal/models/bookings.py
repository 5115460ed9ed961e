"""Charging bookings: a driver's slot at a depot for their car's connector type.

A booking is made for a window (a slot of `BOOKING_SLOT_MINUTES` in the depot's time
zone, stored in UTC) and is given a connector of the right type at once, so that the
database itself can refuse two live bookings on the same connector at the same time
(an exclusion constraint over the connector and `tstzrange(window_start, window_end)`).
When the window opens, the connector is reserved on the charger (OCPP ReserveNow,
`reservation_id` = the booking's id); the driver then starts charging; a booking nobody
turns up for is released after a grace period.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Created, Timestamp, enum_column
from .charging import Charger, ChargerCommand, ChargerConnector, ChargingSession
from .fleet import ConnectorType, Depot, Vehicle
from .people import Driver


class BookingStatus(enum.StrEnum):
    BOOKED = "booked"  # slot taken, connector assigned, window not open yet
    RESERVED = "reserved"  # window open, ReserveNow asked of the charger
    CHARGING = "charging"  # the driver's session started
    COMPLETED = "completed"  # the session ended
    CANCELLED = "cancelled"  # by the driver (or staff) before the window
    NO_SHOW = "no_show"  # released after the grace period without a session

    @property
    def live(self) -> bool:
        """Still holds its connector for its window."""
        return self in LIVE_BOOKING_STATUSES


LIVE_BOOKING_STATUSES = frozenset(
    {BookingStatus.BOOKED, BookingStatus.RESERVED, BookingStatus.CHARGING}
)
_LIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(LIVE_BOOKING_STATUSES))


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window_positive"),
        CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancel_recorded"
        ),
        # No two live bookings on one connector whose windows overlap; the connector as
        # a one-value range, so that core PostgreSQL's GiST does it (no btree_gist).
        ExcludeConstraint(
            (func.int4range(text("connector_id"), text("connector_id"), text("'[]'")), "&&"),
            (func.tstzrange(text("window_start"), text("window_end")), "&&"),
            name="no_overlap_on_connector",
            using="gist",
            where=text(f"status IN ({_LIVE_SQL}) AND connector_id IS NOT NULL"),
        ),
        Index("ix_bookings_driver_window", "driver_id", "window_start"),
        Index("ix_bookings_depot_window", "depot_id", "window_start"),
        Index("ix_bookings_window", "window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    connector_type: Mapped[ConnectorType] = enum_column(ConnectorType)
    charger_id: Mapped[int | None] = mapped_column(ForeignKey("chargers.id"))
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("charger_connectors.id"), index=True
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[BookingStatus] = enum_column(BookingStatus, default=BookingStatus.BOOKED)
    # OCPP reservationId sent with ReserveNow (the booking's own id).
    reservation_id: Mapped[int | None] = mapped_column(unique=True)
    reserve_command_id: Mapped[int | None] = mapped_column(ForeignKey("charger_commands.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("charging_sessions.id"))
    created_at: Mapped[Created]
    reserved_at: Mapped[Timestamp | None]
    cancelled_at: Mapped[Timestamp | None]
    released_at: Mapped[Timestamp | None]  # no-show release, or the session's end

    driver: Mapped[Driver] = relationship()
    vehicle: Mapped[Vehicle] = relationship()
    depot: Mapped[Depot] = relationship()
    charger: Mapped[Charger | None] = relationship()
    connector: Mapped[ChargerConnector | None] = relationship()
    reserve_command: Mapped[ChargerCommand | None] = relationship()
    session: Mapped[ChargingSession | None] = relationship()

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.status} {self.window_start:%Y-%m-%d %H:%M}>"
