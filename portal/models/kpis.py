"""The KPI dashboard's rollups: figures of closed days, refreshed by a job."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Numeric
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base

from ._types import Cents, Created


class KpiDay(Base):
    """One closed local (America/Mexico_City) day of one depot, as the dashboard adds it
    up: km and cars that drove (by the car's depot), billed and collected (by the depot
    of the entry's contract's car), charging sessions, energy and connector time (by the
    charger's depot), bookings and no-shows (by the booking's depot). `depot_id` None
    holds what has no depot (entries without a contract, cars without a depot).
    Recomputing a day replaces all of its rows."""

    __tablename__ = "kpi_daily"
    __table_args__ = (
        Index(
            "uq_kpi_daily_day_depot",
            "day",
            "depot_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"))
    cars_driven: Mapped[int]
    km: Mapped[Decimal] = mapped_column(Numeric(12, 1))
    billed_cents: Mapped[Cents]
    collected_cents: Mapped[Cents]
    sessions: Mapped[int]
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    energy_cost_cents: Mapped[Cents]
    # Seconds sessions held a connector in each local hour of the day (24 values).
    connector_seconds: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    bookings: Mapped[int]
    no_shows: Mapped[int]
    computed_at: Mapped[Created]


class KpiContractOutcome(Base):
    """Whether a contract went 30+ days past due within its first 26 weeks
    (`credit.contract_went_bad`); None while still under observation."""

    __tablename__ = "kpi_contract_outcomes"

    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True
    )
    went_bad: Mapped[bool | None]
    computed_at: Mapped[Created]

    def __repr__(self) -> str:
        return f"<KpiContractOutcome {self.contract_id} {self.went_bad}>"


__all__ = ["KpiContractOutcome", "KpiDay"]
