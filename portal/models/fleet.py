"""The fleet: depots, vehicles and the contracts that lease them to drivers."""

from __future__ import annotations

import enum
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Cents, Created, enum_column

if TYPE_CHECKING:
    from .people import Driver


class ConnectorType(enum.StrEnum):
    CCS2 = "CCS2"
    GBT = "GBT"


class VehicleStatus(enum.StrEnum):
    AVAILABLE = "available"  # at a depot, no driver
    LEASED = "leased"  # on the road with a driver under contract
    IN_REPAIR = "in_repair"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"


class ContractStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"


class Depot(Base):
    __tablename__ = "depots"
    __table_args__ = (CheckConstraint("site_power_kw > 0", name="site_power_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Mexico_City")
    cfe_tariff: Mapped[str] = mapped_column(String(10), default="GDMTH")
    site_power_kw: Mapped[Decimal] = mapped_column(Numeric(8, 1))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    created_at: Mapped[Created]

    vehicles: Mapped[list[Vehicle]] = relationship(back_populates="depot")

    def __repr__(self) -> str:
        return f"<Depot {self.code}>"


class Vehicle(Base):
    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint("battery_kwh > 0", name="battery_positive"),
        CheckConstraint("length(vin) = 17", name="vin_length"),
        Index("ix_vehicles_depot_status", "depot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    plate: Mapped[str] = mapped_column(String(10), unique=True)
    make: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(60))
    year: Mapped[int]
    color: Mapped[str | None] = mapped_column(String(30))
    battery_kwh: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    range_km: Mapped[int]
    connector_type: Mapped[ConnectorType] = enum_column(ConnectorType)
    tracker_imei: Mapped[str | None] = mapped_column(String(15), unique=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    status: Mapped[VehicleStatus] = enum_column(VehicleStatus, default=VehicleStatus.AVAILABLE)
    created_at: Mapped[Created]

    depot: Mapped[Depot] = relationship(back_populates="vehicles")
    contracts: Mapped[list[Contract]] = relationship(back_populates="vehicle")

    def __repr__(self) -> str:
        return f"<Vehicle {self.plate}>"


class Contract(Base):
    """A lease-to-own contract: a driver pays a weekly rent for a car during a term."""

    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("weekly_rent_cents > 0", name="rent_positive"),
        CheckConstraint("deposit_cents >= 0", name="deposit_not_negative"),
        CheckConstraint("late_fee_cents >= 0", name="late_fee_not_negative"),
        CheckConstraint("grace_days >= 0", name="grace_days_not_negative"),
        CheckConstraint("term_weeks > 0", name="term_positive"),
        # One active contract per vehicle and per driver.
        Index(
            "uq_contracts_active_vehicle",
            "vehicle_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_contracts_active_driver",
            "driver_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    weekly_rent_cents: Mapped[Cents]
    deposit_cents: Mapped[Cents] = mapped_column(default=0)
    late_fee_cents: Mapped[Cents] = mapped_column(default=0)
    grace_days: Mapped[int] = mapped_column(default=2)
    term_weeks: Mapped[int]
    starts_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ContractStatus] = enum_column(ContractStatus, default=ContractStatus.DRAFT)
    created_at: Mapped[Created]

    driver: Mapped[Driver] = relationship(back_populates="contracts")
    vehicle: Mapped[Vehicle] = relationship(back_populates="contracts")

    @property
    def ends_on(self) -> date:
        return self.starts_on + timedelta(weeks=self.term_weeks)

    def week_number(self, on: date) -> int:
        """The contract week `on` falls in, 1 for the first week, capped at the term."""
        if on < self.starts_on:
            return 0
        return min((on - self.starts_on).days // 7 + 1, self.term_weeks)

    def __repr__(self) -> str:
        return f"<Contract {self.number}>"
