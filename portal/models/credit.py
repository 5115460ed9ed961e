"""Credit: applications for a car, their gig-platform data, scores, decisions, models.

A `CreditApplication` is one applicant asking for a car: identity, contact, licence,
the consent for checks (who recorded it, when, from where, which text) and the
privacy notice shown. Its gig-platform profile is one `PlatformAccount` per platform
and its earnings history one `EarningsDay` per platform and date (from the
aggregator's export). A `CreditScore` is one run of a `ModelVersion` on the
application's data; a `CreditDecision` is what the policy or a person decided, with
the contract proposed for an approval. `PolicyCutoffs` rows are the manager's
cut-offs over time (the newest one applies).
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

from ._types import Cents, Created, Timestamp, enum_column
from .people import Driver, User


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SCORING = "scoring"
    SCORED = "scored"
    APPROVED = "approved"
    DECLINED = "declined"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"


class Platform(enum.StrEnum):
    UBER = "uber"
    DIDI = "didi"
    INDRIVE = "indrive"
    CABIFY = "cabify"


class Outcome(enum.StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    REFER = "refer"


class CreditApplication(Base):
    __tablename__ = "credit_applications"
    __table_args__ = (
        CheckConstraint(
            "consent_at IS NULL OR (consent_text_version IS NOT NULL"
            " AND privacy_notice_version IS NOT NULL)",
            name="consent_has_versions",
        ),
        CheckConstraint("revision >= 0", name="revision_not_negative"),
        Index("ix_credit_applications_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    second_last_name: Mapped[str | None] = mapped_column(String(100))
    curp: Mapped[str] = mapped_column(String(18), index=True)
    rfc: Mapped[str | None] = mapped_column(String(13))
    phone: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(254))
    licence_number: Mapped[str | None] = mapped_column(String(30))
    licence_expires_on: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(String(300))
    requested_vehicle: Mapped[str] = mapped_column(String(60))
    status: Mapped[ApplicationStatus] = enum_column(
        ApplicationStatus, default=ApplicationStatus.DRAFT
    )
    # Consent for background and platform checks, and the privacy notice shown.
    consent_at: Mapped[Timestamp | None]
    consent_text_version: Mapped[str | None] = mapped_column(String(20))
    consent_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    privacy_notice_version: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A renewal: the driver we already lease to (their ledger feeds the features).
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    # Bumped whenever data the score depends on changes; a score records the one it saw.
    revision: Mapped[int] = mapped_column(default=0)
    scoring_error: Mapped[str | None] = mapped_column(String(300))
    # Sent by the applicant from /solicitud (no member of staff entered it).
    self_service: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Sent from /solicitud with the CURP of this open application (staff review both).
    repeat_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_applications.id"), index=True
    )
    submitted_at: Mapped[Timestamp | None]
    created_at: Mapped[Created]
    updated_at: Mapped[Created] = mapped_column(onupdate=utcnow)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    consent_recorded_by: Mapped[User | None] = relationship(foreign_keys=[consent_recorded_by_id])
    driver: Mapped[Driver | None] = relationship(foreign_keys=[driver_id])
    accounts: Mapped[list[PlatformAccount]] = relationship(
        back_populates="application", order_by="PlatformAccount.platform"
    )
    repeat_of: Mapped[CreditApplication | None] = relationship(
        remote_side=[id], back_populates="repeats"
    )
    repeats: Mapped[list[CreditApplication]] = relationship(
        back_populates="repeat_of", order_by="CreditApplication.id"
    )

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name, self.second_last_name) if p)

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    def __repr__(self) -> str:
        return f"<CreditApplication {self.id} {self.status}>"


class PlatformAccount(Base):
    """The applicant's profile on one gig platform, as the aggregator reports it."""

    __tablename__ = "platform_accounts"
    __table_args__ = (
        UniqueConstraint("application_id", "platform", name="uq_platform_accounts_platform"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        CheckConstraint(
            "acceptance_rate IS NULL OR (acceptance_rate >= 0 AND acceptance_rate <= 1)",
            name="acceptance_range",
        ),
        CheckConstraint(
            "cancellation_rate IS NULL OR (cancellation_rate >= 0 AND cancellation_rate <= 1)",
            name="cancellation_range",
        ),
        CheckConstraint("lifetime_trips IS NULL OR lifetime_trips >= 0", name="trips_not_negative"),
        CheckConstraint(
            "debt_pending_cents >= 0 AND debt_paid_cents >= 0", name="debt_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("credit_applications.id", ondelete="CASCADE")
    )
    platform: Mapped[Platform] = enum_column(Platform)
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    acceptance_rate: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    cancellation_rate: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    lifetime_trips: Mapped[int | None]
    first_trip_on: Mapped[date | None] = mapped_column(Date)
    debt_pending_cents: Mapped[Cents] = mapped_column(default=0)
    debt_paid_cents: Mapped[Cents] = mapped_column(default=0)
    # Typed by staff or the applicant rather than read from the aggregator's export.
    hand_entered: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[Created]

    application: Mapped[CreditApplication] = relationship(back_populates="accounts")


class EarningsDay(Base):
    """One day of earnings on one platform (the aggregator's daily row)."""

    __tablename__ = "earnings_days"
    __table_args__ = (
        UniqueConstraint("application_id", "platform", "day", name="uq_earnings_days_day"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint(
            "cash_amount_cents >= 0 AND cash_amount_cents <= amount_cents", name="cash_within"
        ),
        CheckConstraint("trips >= 0", name="trips_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("credit_applications.id", ondelete="CASCADE")
    )
    platform: Mapped[Platform] = enum_column(Platform)
    day: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[Cents]
    cash_amount_cents: Mapped[Cents] = mapped_column(default=0)
    trips: Mapped[int] = mapped_column(default=0)


class ModelVersion(Base):
    """A trained model directory (``scoring`` artifact) registered for scoring."""

    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active model.
        Index(
            "uq_model_versions_active",
            "active",
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(String(500))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    training_rows: Mapped[int] = mapped_column(default=0)
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    code_version: Mapped[str] = mapped_column(String(60))
    model_sha256: Mapped[str] = mapped_column(String(64))
    synthetic: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[Created]
    activated_at: Mapped[Timestamp | None]

    def __repr__(self) -> str:
        return f"<ModelVersion {self.name}{' active' if self.active else ''}>"


class CreditScore(Base):
    __tablename__ = "credit_scores"
    __table_args__ = (
        CheckConstraint("pd >= 0 AND pd <= 1", name="pd_range"),
        Index("ix_credit_scores_application_scored", "application_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("credit_applications.id", ondelete="CASCADE")
    )
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    pd: Mapped[Decimal] = mapped_column(Numeric(6, 5))
    score: Mapped[int]
    band: Mapped[str] = mapped_column(String(2))
    # [{"feature": ..., "text": Spanish sentence, "points": points lost}, ...]
    reason_codes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy_result: Mapped[Outcome] = enum_column(Outcome)
    cutoffs_id: Mapped[int | None] = mapped_column(ForeignKey("policy_cutoffs.id"))
    application_revision: Mapped[int] = mapped_column(default=0)
    synthetic: Mapped[bool] = mapped_column(default=False)
    scored_at: Mapped[Created]

    model_version: Mapped[ModelVersion] = relationship()


class CreditDecision(Base):
    __tablename__ = "credit_decisions"
    __table_args__ = (
        CheckConstraint(
            "NOT override OR (reason IS NOT NULL AND approved_by_id IS NOT NULL)",
            name="override_has_reason_and_manager",
        ),
        CheckConstraint("automatic OR decided_by_id IS NOT NULL", name="manual_has_person"),
        CheckConstraint(
            "outcome <> 'approve' OR (proposed_weekly_rent_cents IS NOT NULL"
            " AND proposed_deposit_cents IS NOT NULL AND proposed_term_weeks IS NOT NULL)",
            name="approval_has_proposal",
        ),
        CheckConstraint(
            "proposed_weekly_rent_cents IS NULL OR proposed_weekly_rent_cents"
            " BETWEEN 280000 AND 420000",
            name="rent_in_range",
        ),
        CheckConstraint(
            "policy_result IS NULL OR policy_result IN ('approve', 'decline', 'refer')",
            name="policy_result_values",
        ),
        Index("ix_credit_decisions_application_created", "application_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("credit_applications.id", ondelete="CASCADE")
    )
    score_id: Mapped[int | None] = mapped_column(ForeignKey("credit_scores.id"))
    outcome: Mapped[Outcome] = enum_column(Outcome)
    # What the cut-offs said (an Outcome value); plain text since `outcome` uses the enum.
    policy_result: Mapped[str | None] = mapped_column(String(10))
    automatic: Mapped[bool] = mapped_column(default=False)
    override: Mapped[bool] = mapped_column(default=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    proposed_weekly_rent_cents: Mapped[int | None] = mapped_column(BigInteger)
    proposed_deposit_cents: Mapped[int | None] = mapped_column(BigInteger)
    proposed_term_weeks: Mapped[int | None]
    created_at: Mapped[Created]

    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])


class PolicyCutoffs(Base):
    """Score cut-offs: approve at or above, decline below, refer in between."""

    __tablename__ = "policy_cutoffs"
    __table_args__ = (
        CheckConstraint("decline_below <= approve_at_or_above", name="cutoffs_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    approve_at_or_above: Mapped[int]
    decline_below: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[Created]

    set_by: Mapped[User | None] = relationship()
