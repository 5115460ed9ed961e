"""Weekly account statements (estado de cuenta): a closed week of a driver's ledger.

A statement is written once, when its week is closed, and its figures never change;
only its PDF (path, checksum, status) is filled in later by a job.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

from ._types import Cents, Timestamp, enum_column
from .fleet import Contract
from .people import Driver


class PdfStatus(enum.StrEnum):
    NONE = "none"  # not asked for yet
    QUEUED = "queued"
    READY = "ready"
    FAILED = "failed"


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("contract_id", "week_start", name="uq_statements_contract_week"),
        CheckConstraint(
            "closing_balance_cents = opening_balance_cents + charges_cents + credits_cents",
            name="closing_adds_up",
        ),
        CheckConstraint("charges_cents >= 0 AND credits_cents <= 0", name="totals_signed"),
        CheckConstraint("days_late >= 0 AND weeks_paid >= 0", name="counts_not_negative"),
        Index("ix_statements_driver_week", "driver_id", "week_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    week_start: Mapped[date] = mapped_column(Date)  # a Monday, Mexico City
    week_end: Mapped[date] = mapped_column(Date)  # the Sunday that ends the week
    opening_balance_cents: Mapped[Cents]
    charges_cents: Mapped[Cents]  # the sum of the week's positive entries
    credits_cents: Mapped[Cents]  # the sum of the week's negative entries (<= 0)
    closing_balance_cents: Mapped[Cents]
    payments_cents: Mapped[Cents]  # payments alone (<= 0), a part of credits
    totals_by_kind: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entry_count: Mapped[int]
    due_on: Mapped[date] = mapped_column(Date)
    days_late: Mapped[int]
    weeks_paid: Mapped[int]
    term_weeks: Mapped[int]
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pdf_status: Mapped[PdfStatus] = enum_column(PdfStatus, default=PdfStatus.NONE)
    pdf_path: Mapped[str | None] = mapped_column(String(300))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_generated_at: Mapped[Timestamp | None]

    driver: Mapped[Driver] = relationship()
    contract: Mapped[Contract] = relationship()

    @property
    def pdf_ready(self) -> bool:
        return self.pdf_status == PdfStatus.READY and bool(self.pdf_path)

    def __repr__(self) -> str:
        return f"<Statement {self.id} contract={self.contract_id} {self.week_start}>"
