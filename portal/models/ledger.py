"""The ledger: one signed entry per money event, never edited, never deleted.

A positive amount is a charge (the driver owes more), a negative one a credit
(payments, deposits applied). Balances are sums over entries; `driver_balances`
holds a per-driver summary of them for the lists, recomputed on every posting.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

from ._types import Cents, enum_column
from .fleet import Contract
from .people import Driver, User


class EntryKind(enum.StrEnum):
    RENT = "rent"
    ENERGY = "energy"
    TOLL = "toll"
    FINE = "fine"
    DAMAGE = "damage"
    DEDUCTIBLE = "deductible"
    LATE_FEE = "late_fee"
    # The security deposit charged when a contract is signed (the driver pays it like
    # any charge); `DEPOSIT` is that deposit credited back when the contract ends.
    SECURITY_DEPOSIT = "security_deposit"
    DEPOSIT = "deposit"
    PAYMENT = "payment"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


CHARGES = frozenset(
    {
        EntryKind.RENT,
        EntryKind.ENERGY,
        EntryKind.TOLL,
        EntryKind.FINE,
        EntryKind.DAMAGE,
        EntryKind.DEDUCTIBLE,
        EntryKind.LATE_FEE,
        EntryKind.SECURITY_DEPOSIT,
    }
)
CREDITS = frozenset({EntryKind.PAYMENT, EntryKind.DEPOSIT})


def _in(kinds: frozenset[EntryKind]) -> str:
    return ", ".join(f"'{k.value}'" for k in sorted(kinds))


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        CheckConstraint(
            f"(kind IN ({_in(CHARGES)}) AND amount_cents > 0)"
            f" OR (kind IN ({_in(CREDITS)}) AND amount_cents < 0)"
            " OR kind IN ('adjustment', 'reversal')",
            name="sign_matches_kind",
        ),
        CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_points_back"
        ),
        # A driver's balance as of any moment is an index-only scan.
        Index(
            "ix_ledger_entries_driver_posted",
            "driver_id",
            "posted_at",
            postgresql_include=["amount_cents"],
        ),
        Index("ix_ledger_entries_contract_posted", "contract_id", "posted_at"),
        Index("ix_ledger_entries_source", "source_type", "source_id"),
        # The dashboard's open day (billed and collected today).
        Index("ix_ledger_entries_posted", "posted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    kind: Mapped[EntryKind] = enum_column(EntryKind)
    amount_cents: Mapped[Cents]
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    description: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(60))  # a fine's folio, a receipt
    source_type: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[str | None] = mapped_column(String(60))
    # What makes the entry exactly-once: "rent:<contract>:<week>", "payment:stripe:<id>".
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    driver: Mapped[Driver] = relationship()
    contract: Mapped[Contract | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    reverses: Mapped[LedgerEntry | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.id} {self.kind} {self.amount_cents}>"


class DriverBalance(Base):
    """Each driver's account as the ledger stands: a summary, never the truth.

    Kept current by `services.balances.refresh`, which every ledger posting calls in
    its own transaction (under a row lock on this row), so the collections list and
    the dashboard's overdue figures read one row per driver instead of the ledger.
    `oldest_unpaid_at` is when the oldest charge not yet covered by credits was posted
    (credits pay charges oldest first), NULL when nothing is owed.
    """

    __tablename__ = "driver_balances"

    driver_id: Mapped[int] = mapped_column(
        ForeignKey("drivers.id", ondelete="CASCADE"), primary_key=True
    )
    balance_cents: Mapped[Cents] = mapped_column(default=0)
    oldest_unpaid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_payment_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
