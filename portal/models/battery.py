"""Battery health: charging sessions joined to the car that was plugged in, and each
car's latest estimate of its battery's state of health.

Both tables are derived (`portal.services.battery`, nightly): `battery_sessions` has
one row per completed charging session, in plain columns a BI tool reads as they are;
`battery_estimates` one row per vehicle with what `telemetry.battery` estimated from
that vehicle's rows. Recomputing either replaces its rows.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow

from ._types import enum_column


class VehicleMatch(enum.StrEnum):
    """How a charging session was tied to a car, in the order they are tried."""

    BOOKING = "booking"  # the booking the session started on
    ID_TAG = "id_tag"  # the card's driver's contract covering that day
    TRACKER = "tracker"  # the only car whose tracker saw it charging at that depot then
    NONE = "none"  # no car found


class BatterySession(Base):
    """One completed charging session, the car plugged in, and its tracker's state of
    charge just before and just after (the last reading before the start, the first
    after the stop). `usable` says whether the battery estimator may use the row: a car,
    both readings within `READING_WINDOW` of the session, charge gained, energy metered,
    a charger type."""

    __tablename__ = "battery_sessions"
    __table_args__ = (
        CheckConstraint("charger_type IN ('AC', 'DC')", name="charger_type_known"),
        Index("ix_battery_sessions_vehicle_started", "vehicle_id", "started_at"),
        Index("ix_battery_sessions_ended", "ended_at"),
    )

    session_id: Mapped[int] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    matched_by: Mapped[VehicleMatch] = enum_column(VehicleMatch)
    # The car's tracker saw it plugged in or charging at the charger's depot during the
    # session; None without a car.
    tracker_confirmed: Mapped[bool | None]
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    energy_kwh: Mapped[Decimal] = mapped_column(Numeric(9, 3))
    charger_type: Mapped[str | None] = mapped_column(String(2))
    max_kw: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    soc_start_pct: Mapped[int | None] = mapped_column(SmallInteger)
    soc_start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    soc_end_pct: Mapped[int | None] = mapped_column(SmallInteger)
    soc_end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    odometer_km: Mapped[Decimal | None] = mapped_column(Numeric(9, 1))
    # The start reading's battery temperature (IO 151, CAN adapter), °C.
    battery_temp_c: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    model: Mapped[str | None] = mapped_column(String(100))
    nominal_kwh: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    usable: Mapped[bool]
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BatteryEstimate(Base):
    """A vehicle's latest battery estimate (`telemetry.battery.estimate_fleet` over its
    `battery_sessions`). The figures are None until the car has enough sessions.
    State of health and fade are in percent of the nominal capacity; the band is 95 %."""

    __tablename__ = "battery_estimates"

    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True
    )
    estimated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String(100))
    nominal_kwh: Mapped[float] = mapped_column(Float)
    sessions_total: Mapped[int]
    sessions_used: Mapped[int]
    soh_percent: Mapped[float | None] = mapped_column(Float)
    soh_low: Mapped[float | None] = mapped_column(Float)
    soh_high: Mapped[float | None] = mapped_column(Float)
    capacity_kwh: Mapped[float | None] = mapped_column(Float)
    fade_percent_per_year: Mapped[float | None] = mapped_column(Float)
    fade_low: Mapped[float | None] = mapped_column(Float)
    fade_high: Mapped[float | None] = mapped_column(Float)
    fade_percent_per_10000_km: Mapped[float | None] = mapped_column(Float)
    efficiency_ac: Mapped[float | None] = mapped_column(Float)
    efficiency_dc: Mapped[float | None] = mapped_column(Float)
    dc_share: Mapped[float | None] = mapped_column(Float)
    fade_z: Mapped[float | None] = mapped_column(Float)  # robust z-score in the fleet
    low_soh: Mapped[bool] = mapped_column(default=False)
    fast_fade: Mapped[bool] = mapped_column(default=False)
    # [{"month": "2026-03", "soh_percent": 99.1, "sessions": 24}, ...]
    trend: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
