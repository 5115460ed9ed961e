"""Payments: what a driver set out to pay, what providers told us, where SPEI lands.

A `PaymentIntent` is one payment a driver started (an OXXO reference, a SPEI
transfer) or that staff received in cash. Its status only moves forward along
`STATUS_RANK`, so a late or out-of-order webhook never moves a paid intent back.
When it becomes paid, exactly one ledger entry (`payment:<intent id>`) credits the
driver. A `WebhookEvent` is every provider notification, stored once per provider
event id. A `PaymentAccount` is a driver's reusable SPEI CLABE at one provider.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Cents, Created, Timestamp, enum_column
from .ledger import LedgerEntry
from .people import Driver, User


class PaymentProvider(enum.StrEnum):
    CONEKTA = "conekta"
    STRIPE = "stripe"
    # The explicitly labelled demonstration mode: references issued locally, paid
    # only by a signed webhook (never allowed in production).
    DEMO = "demo"
    CASH = "cash"  # received by staff at a depot


class PaymentMethod(enum.StrEnum):
    OXXO = "oxxo"
    SPEI = "spei"
    CARD = "card"
    CASH = "cash"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    CANCELED = "canceled"
    FAILED = "failed"
    PAID = "paid"
    REFUNDED = "refunded"


# A status only moves to a higher rank; equal ranks do not replace each other.
STATUS_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.EXPIRED: 1,
    PaymentStatus.CANCELED: 1,
    PaymentStatus.FAILED: 1,
    PaymentStatus.PAID: 2,
    PaymentStatus.REFUNDED: 3,
}


class PaymentIntent(Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("currency = 'MXN'", name="currency_mxn"),
        CheckConstraint("(provider = 'cash') = (method = 'cash')", name="cash_is_cash"),
        CheckConstraint(
            "method <> 'cash' OR (receipt_number IS NOT NULL AND recorded_by_id IS NOT NULL)",
            name="cash_has_receipt",
        ),
        CheckConstraint(
            "status NOT IN ('paid', 'refunded') OR paid_at IS NOT NULL", name="paid_has_time"
        ),
        UniqueConstraint("provider", "provider_payment_id"),
        Index("ix_payment_intents_driver_created", "driver_id", "created_at"),
        Index(
            "uq_payment_intents_receipt",
            "receipt_number",
            unique=True,
            postgresql_where=text("receipt_number IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    provider: Mapped[PaymentProvider] = enum_column(PaymentProvider)
    method: Mapped[PaymentMethod] = enum_column(PaymentMethod)
    amount_cents: Mapped[Cents]
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    status: Mapped[PaymentStatus] = enum_column(PaymentStatus, default=PaymentStatus.PENDING)
    # Conekta's order id, Stripe's PaymentIntent id, a demo id; none for cash.
    provider_payment_id: Mapped[str | None] = mapped_column(String(100))
    provider_customer_id: Mapped[str | None] = mapped_column(String(100))
    # OXXO: the number the cashier types or scans (digits only) and the voucher page.
    reference: Mapped[str | None] = mapped_column(String(30))
    voucher_url: Mapped[str | None] = mapped_column(String(500))
    # SPEI: the CLABE the driver transfers to.
    clabe: Mapped[str | None] = mapped_column(String(18))
    expires_at: Mapped[Timestamp | None]
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    receipt_number: Mapped[str | None] = mapped_column(String(40))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]
    status_changed_at: Mapped[Timestamp | None]
    paid_at: Mapped[Timestamp | None]
    ledger_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entries.id"), unique=True
    )

    driver: Mapped[Driver] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    ledger_entry: Mapped[LedgerEntry | None] = relationship()

    def __repr__(self) -> str:
        return f"<PaymentIntent {self.id} {self.provider}/{self.method} {self.status}>"


class WebhookEvent(Base):
    """A provider notification, stored once per (provider, provider event id)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_webhook_events_object", "provider", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[PaymentProvider] = enum_column(PaymentProvider)
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(80))
    # The provider payment (order, PaymentIntent) the event is about, if any.
    object_id: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[Created]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    processed_at: Mapped[Timestamp | None]
    # applied, ignored (status would move back or the type is not ours), unmatched.
    result: Mapped[str | None] = mapped_column(String(40))
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"), index=True)

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.provider} {self.event_id} {self.type}>"


class PaymentAccount(Base):
    """A driver's reusable SPEI CLABE at one provider (and the provider's customer id)."""

    __tablename__ = "payment_accounts"
    __table_args__ = (
        UniqueConstraint("driver_id", "provider"),
        UniqueConstraint("provider", "provider_customer_id"),
        CheckConstraint("length(clabe) = 18", name="clabe_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    provider: Mapped[PaymentProvider] = enum_column(PaymentProvider)
    provider_customer_id: Mapped[str] = mapped_column(String(100))
    provider_source_id: Mapped[str | None] = mapped_column(String(100))
    clabe: Mapped[str] = mapped_column(String(18), unique=True)
    bank_name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[Created]

    driver: Mapped[Driver] = relationship()

    def __repr__(self) -> str:
        return f"<PaymentAccount {self.driver_id} {self.provider} {self.clabe}>"
