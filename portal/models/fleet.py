"""The fleet: depots and their CFE tariffs, the model catalogue, vehicles, and the
contracts that lease them to drivers (with their handover and return checklists)."""

from __future__ import annotations

import enum
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Cents, Created, Timestamp, enum_column

if TYPE_CHECKING:
    from .people import Driver, User


class ConnectorType(enum.StrEnum):
    CCS2 = "CCS2"
    GBT = "GBT"


class VehicleStatus(enum.StrEnum):
    """A car's life: in preparation → available → leased → in repair / out of service →
    transferred to the driver / sold / written off (the last three retire it)."""

    IN_PREPARATION = "in_preparation"  # bought, being fitted (tracker, plates, papers)
    AVAILABLE = "available"  # at a depot, no driver
    LEASED = "leased"  # on the road with a driver under contract
    IN_REPAIR = "in_repair"
    OUT_OF_SERVICE = "out_of_service"
    TRANSFERRED = "transferred"  # the driver owns it at the end of the lease
    SOLD = "sold"
    WRITTEN_OFF = "written_off"  # a total loss, or stolen and not recovered


#: The statuses that take a car out of the fleet for good.
RETIRED_STATUSES = frozenset(
    {VehicleStatus.TRANSFERRED, VehicleStatus.SOLD, VehicleStatus.WRITTEN_OFF}
)


class ContractStatus(enum.StrEnum):
    """draft (proposed; a manager signs off when its terms differ from the credit
    decision's) → signed (deposit charged, the car is the driver's) → active (the driver
    confirmed the handover) ⇄ suspended → completed (the car passes to the driver) or
    terminated early; a draft can be cancelled."""

    DRAFT = "draft"
    SIGNED = "signed"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"


#: A contract in one of these holds its car and its driver (one at a time).
LIVE_CONTRACT_STATUSES = frozenset(
    {ContractStatus.SIGNED, ContractStatus.ACTIVE, ContractStatus.SUSPENDED}
)


class TariffKind(enum.StrEnum):
    GDMTH = "GDMTH"  # medium voltage, time of use (100 kW contracted or more)
    GDMTO = "GDMTO"  # medium voltage, one energy price all day


class TariffPeriod(enum.StrEnum):
    """An energy period: GDMTH has base, intermedia and punta; GDMTO one (unica)."""

    BASE = "base"
    INTERMEDIA = "intermedia"
    PUNTA = "punta"
    UNICA = "unica"


TARIFF_PERIODS = {
    TariffKind.GDMTH: (TariffPeriod.BASE, TariffPeriod.INTERMEDIA, TariffPeriod.PUNTA),
    TariffKind.GDMTO: (TariffPeriod.UNICA,),
}


_LIVE = "status IN ('signed', 'active', 'suspended')"


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
    retired_at: Mapped[Timestamp | None]
    created_at: Mapped[Created]

    vehicles: Mapped[list[Vehicle]] = relationship(back_populates="depot")
    tariffs: Mapped[list[DepotTariff]] = relationship(
        back_populates="depot", order_by="DepotTariff.effective_from.desc()"
    )

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    def __repr__(self) -> str:
        return f"<Depot {self.code}>"


class DepotTariff(Base):
    """The depot's CFE tariff from `effective_from` (a local date) until the next one.

    The shape of `charging.tariffs.Tariff`: the kind, one energy price per period of the
    kind (`DepotTariffPrice`), capacity and distribution per kW-month, the fixed charge
    per month and transmission per kWh. CFE's own hours of each period are the engine's
    data, not the depot's. Prices are MXN as CFE publishes them (four decimals): a kWh
    costs fractions of a centavo, so they are not centavos; what is billed is.
    """

    __tablename__ = "depot_tariffs"
    __table_args__ = (
        UniqueConstraint("depot_id", "effective_from", name="uq_depot_tariffs_depot_from"),
        CheckConstraint(
            "capacity_mxn_per_kw >= 0 AND distribution_mxn_per_kw >= 0"
            " AND fixed_mxn_per_month >= 0 AND transmission_mxn_per_kwh >= 0",
            name="charges_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    kind: Mapped[TariffKind] = enum_column(TariffKind)
    effective_from: Mapped[date] = mapped_column(Date)
    capacity_mxn_per_kw: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    distribution_mxn_per_kw: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    fixed_mxn_per_month: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    transmission_mxn_per_kwh: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]

    depot: Mapped[Depot] = relationship(back_populates="tariffs")
    prices: Mapped[list[DepotTariffPrice]] = relationship(
        back_populates="tariff", cascade="all, delete-orphan", order_by="DepotTariffPrice.period"
    )

    def price(self, period: TariffPeriod) -> Decimal | None:
        return next((p.mxn_per_kwh for p in self.prices if p.period == period), None)

    def __repr__(self) -> str:
        return f"<DepotTariff {self.depot_id} {self.kind} {self.effective_from}>"


class DepotTariffPrice(Base):
    """The energy price of one period of a depot's tariff."""

    __tablename__ = "depot_tariff_prices"
    __table_args__ = (CheckConstraint("mxn_per_kwh >= 0", name="price_not_negative"),)

    tariff_id: Mapped[int] = mapped_column(
        ForeignKey("depot_tariffs.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[TariffPeriod] = enum_column(TariffPeriod, primary_key=True)
    mxn_per_kwh: Mapped[Decimal] = mapped_column(Numeric(10, 4))

    tariff: Mapped[DepotTariff] = relationship(back_populates="prices")


class VehicleModel(Base):
    """The model catalogue: what a make and model with a given battery is and takes."""

    __tablename__ = "vehicle_models"
    __table_args__ = (
        UniqueConstraint("make", "model", "battery_kwh", name="uq_vehicle_models_version"),
        CheckConstraint("battery_kwh > 0", name="battery_positive"),
        CheckConstraint("range_km > 0", name="range_positive"),
        CheckConstraint(
            "(max_ac_kw IS NULL OR max_ac_kw > 0) AND (max_dc_kw IS NULL OR max_dc_kw > 0)",
            name="power_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    make: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(60))
    battery_kwh: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    range_km: Mapped[int]
    connector_type: Mapped[ConnectorType] = enum_column(ConnectorType)
    max_ac_kw: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    max_dc_kw: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    created_at: Mapped[Created]

    @property
    def label(self) -> str:
        return f"{self.make} {self.model} {self.battery_kwh} kWh"

    def __repr__(self) -> str:
        return f"<VehicleModel {self.label}>"


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
    # The catalogue entry; make, model, battery, range and connector are copied from it.
    model_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle_models.id"))
    status: Mapped[VehicleStatus] = enum_column(VehicleStatus, default=VehicleStatus.AVAILABLE)
    status_changed_at: Mapped[Timestamp | None]
    created_at: Mapped[Created]

    depot: Mapped[Depot] = relationship(back_populates="vehicles")
    catalogue_model: Mapped[VehicleModel | None] = relationship()
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="vehicle", foreign_keys="Contract.vehicle_id"
    )

    @property
    def is_retired(self) -> bool:
        return self.status in RETIRED_STATUSES

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
        CheckConstraint(
            "opening_weeks_paid >= 0 AND opening_weeks_paid <= term_weeks",
            name="opening_weeks_within_term",
        ),
        # One live contract (signed, active or suspended) per vehicle and per driver.
        Index(
            "uq_contracts_active_vehicle",
            "vehicle_id",
            unique=True,
            postgresql_where=text(_LIVE),
        ),
        Index(
            "uq_contracts_active_driver",
            "driver_id",
            unique=True,
            postgresql_where=text(_LIVE),
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
    # Rent weeks paid before the portal's ledger (a contract imported on day one).
    opening_weeks_paid: Mapped[int] = mapped_column(default=0, server_default="0")
    # The credit decision whose proposal the terms are measured against.
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("credit_decisions.id"))
    # A manager's sign-off, needed when the terms differ from the decision's proposal.
    needs_signoff: Mapped[bool] = mapped_column(default=False, server_default="false")
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[Timestamp | None]
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[Timestamp | None]
    activated_at: Mapped[Timestamp | None]
    # While the contract's own car is in repair, `vehicle_id` is the replacement and
    # this is the contract's car (the one that passes to the driver at the end).
    own_vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    end_reason: Mapped[str | None] = mapped_column(String(300))
    # Where the import of day one took it from (file name and line), if imported.
    imported_from: Mapped[str | None] = mapped_column(String(200))
    summary_pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    letter_pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[Created]

    driver: Mapped[Driver] = relationship(back_populates="contracts")
    vehicle: Mapped[Vehicle] = relationship(back_populates="contracts", foreign_keys=[vehicle_id])
    own_vehicle: Mapped[Vehicle | None] = relationship(foreign_keys=[own_vehicle_id])
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id])
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    checklists: Mapped[list[ContractChecklist]] = relationship(
        back_populates="contract", order_by="ContractChecklist.id"
    )

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_CONTRACT_STATUSES

    @property
    def leased_vehicle_id(self) -> int:
        """The contract's own car (not a replacement lent while it is in repair)."""
        return self.own_vehicle_id or self.vehicle_id

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


class ChecklistKind(enum.StrEnum):
    HANDOVER = "handover"  # the car goes to the driver
    RETURN = "return"  # the car comes back (termination)


class ContractChecklist(Base):
    """What staff saw when a car changed hands: odometer, charge, photos, damage, card.

    The driver confirms a handover on their phone (`confirmed_at`); a return is staff's
    record. Photos are files in the content-addressed store (`photos`: checksum, type,
    size, width, height), cleaned by the uploads service like an incident's.
    """

    __tablename__ = "contract_checklists"
    __table_args__ = (
        CheckConstraint("odometer_km >= 0", name="odometer_not_negative"),
        CheckConstraint("soc_pct BETWEEN 0 AND 100", name="soc_range"),
        CheckConstraint("damage_cents >= 0", name="damage_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    kind: Mapped[ChecklistKind] = enum_column(ChecklistKind)
    odometer_km: Mapped[int]
    soc_pct: Mapped[int]
    damage_notes: Mapped[str | None] = mapped_column(Text)
    damage_cents: Mapped[Cents] = mapped_column(default=0)
    charging_card: Mapped[str | None] = mapped_column(String(36))
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[Created]
    confirmed_at: Mapped[Timestamp | None]
    # The incident opened for the damage found on return (its liability is the charge).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))

    contract: Mapped[Contract] = relationship(back_populates="checklists")
    vehicle: Mapped[Vehicle] = relationship()
    recorded_by: Mapped[User] = relationship()
