"""Vehicle telemetry: the trackers' readings, each vehicle's latest state, what was
refused, and what jobs derive from the readings (trips, charging, daily km, alerts).

`telemetry_readings` is range-partitioned by month on `device_time` (PostgreSQL): the
primary key (imei, device_time) includes the partition key, as PostgreSQL requires, and
is what makes a resent record change nothing. Partitions are created on demand by the
ingest (`telemetry.store.ensure_partitions`) and ahead of time by a monthly
job; Alembic does not know partitions, so `include_in_schema_compare` hides them from
autogenerate and from the schema test.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import JSON

from portal.db import Base, utcnow

from ._types import enum_column
from .fleet import Depot

Json = JSON().with_variant(JSONB(), "postgresql")

PARTITION_NAME = re.compile(r"^telemetry_readings_\d{6}$")


def include_in_schema_compare(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic `include_name`: leave out the monthly partitions of telemetry_readings."""
    return not (type_ == "table" and name is not None and PARTITION_NAME.match(name))


class TelemetryReading(Base):
    """One AVL record as the tracker sent it, with the values the portal reads named."""

    __tablename__ = "telemetry_readings"
    __table_args__ = ({"postgresql_partition_by": "RANGE (device_time)"},)

    imei: Mapped[str] = mapped_column(String(15), primary_key=True)
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    altitude: Mapped[int] = mapped_column(SmallInteger)
    angle: Mapped[int] = mapped_column(SmallInteger)
    satellites: Mapped[int] = mapped_column(SmallInteger)
    speed: Mapped[int] = mapped_column(SmallInteger)
    position_valid: Mapped[bool] = mapped_column(Boolean)
    ignition: Mapped[bool | None] = mapped_column(Boolean)
    movement: Mapped[bool | None] = mapped_column(Boolean)
    odometer_m: Mapped[int | None] = mapped_column(BigInteger)
    soc_pct: Mapped[int | None] = mapped_column(SmallInteger)
    range_m: Mapped[int | None] = mapped_column(Integer)
    charging: Mapped[bool | None] = mapped_column(Boolean)
    plugged: Mapped[bool | None] = mapped_column(Boolean)
    io: Mapped[dict[str, Any]] = mapped_column(Json)


class VehicleState(Base):
    """A vehicle's latest reading: replaced only by a reading with a newer device time."""

    __tablename__ = "vehicle_states"

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    imei: Mapped[str] = mapped_column(String(15))
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    angle: Mapped[int] = mapped_column(SmallInteger)
    satellites: Mapped[int] = mapped_column(SmallInteger)
    speed: Mapped[int] = mapped_column(SmallInteger)
    position_valid: Mapped[bool] = mapped_column(Boolean)
    ignition: Mapped[bool | None] = mapped_column(Boolean)
    movement: Mapped[bool | None] = mapped_column(Boolean)
    odometer_m: Mapped[int | None] = mapped_column(BigInteger)
    soc_pct: Mapped[int | None] = mapped_column(SmallInteger)
    range_m: Mapped[int | None] = mapped_column(Integer)
    charging: Mapped[bool | None] = mapped_column(Boolean)
    plugged: Mapped[bool | None] = mapped_column(Boolean)
    last_record: Mapped[dict[str, Any]] = mapped_column(Json)


class TelemetryReject(Base):
    """A message or frame the ingest refused (unknown IMEI, malformed), kept for staff."""

    __tablename__ = "telemetry_rejects"
    __table_args__ = (Index("ix_telemetry_rejects_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    imei: Mapped[str | None] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class VehicleTrip(Base):
    """A drive: from ignition on (or movement) to ignition off, derived from readings."""

    __tablename__ = "vehicle_trips"
    __table_args__ = (UniqueConstraint("vehicle_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_latitude: Mapped[float] = mapped_column(Float)
    start_longitude: Mapped[float] = mapped_column(Float)
    end_latitude: Mapped[float] = mapped_column(Float)
    end_longitude: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[int] = mapped_column(Integer)
    max_speed: Mapped[int] = mapped_column(SmallInteger)
    start_soc_pct: Mapped[int | None] = mapped_column(SmallInteger)
    end_soc_pct: Mapped[int | None] = mapped_column(SmallInteger)


class ChargingEpisode(Base):
    """A stretch of readings with the battery charging (or, failing that, plugged in)."""

    __tablename__ = "vehicle_charging_episodes"
    __table_args__ = (UniqueConstraint("vehicle_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_soc_pct: Mapped[int | None] = mapped_column(SmallInteger)
    end_soc_pct: Mapped[int | None] = mapped_column(SmallInteger)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"))

    depot: Mapped[Depot | None] = relationship()


class VehicleDailyKm(Base):
    """Kilometres driven on a local (America/Mexico_City) day, from the odometer."""

    __tablename__ = "vehicle_daily_km"
    __table_args__ = (Index("ix_vehicle_daily_km_day", "day"),)  # the dashboard's open day

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    km: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    first_odometer_m: Mapped[int] = mapped_column(BigInteger)
    last_odometer_m: Mapped[int] = mapped_column(BigInteger)


class AlertKind(enum.StrEnum):
    SILENT = "silent"  # no reading for longer than TELEMETRY_SILENT_MINUTES
    LOW_SOC = "low_soc"  # state of charge under TELEMETRY_LOW_SOC_PCT, not charging


class VehicleAlert(Base):
    """An alert about a vehicle, open until the condition clears."""

    __tablename__ = "vehicle_alerts"
    __table_args__ = (
        CheckConstraint("closed_at IS NULL OR closed_at >= opened_at", name="closes_after_open"),
        Index(
            "uq_vehicle_alerts_open",
            "vehicle_id",
            "kind",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    kind: Mapped[AlertKind] = enum_column(AlertKind)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(String(200))
