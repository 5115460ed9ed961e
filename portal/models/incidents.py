"""Incidents and insurance claims: what happened to a car, who handles it, what it cost.

An incident moves along a workflow (see `portal.services.incidents.TRANSITIONS`);
every change and comment is a row of its timeline. Attachments are files kept
outside the database (content-addressed by SHA-256); the rows hold their checksum,
sniffed type and size. Money the driver owes for it lives in the ledger, with the
incident as its source, never here.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Cents, Created, Timestamp, enum_column
from .fleet import Contract, Vehicle
from .people import Driver, User


class IncidentType(enum.StrEnum):
    ACCIDENT = "accident"
    THEFT = "theft"
    DAMAGE = "damage"
    BREAKDOWN = "breakdown"
    FINE = "fine"
    OTHER = "other"


class IncidentStatus(enum.StrEnum):
    REPORTED = "reported"
    IN_REVIEW = "in_review"
    CLAIM_FILED = "claim_filed"
    IN_REPAIR = "in_repair"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {
        IncidentStatus.REPORTED,
        IncidentStatus.IN_REVIEW,
        IncidentStatus.CLAIM_FILED,
        IncidentStatus.IN_REPAIR,
    }
)


class PositionSource(enum.StrEnum):
    PHONE = "phone"  # the browser's Geolocation API, with the driver's consent
    TELEMETRY = "telemetry"  # the car's last tracker position


class DeductiblePayer(enum.StrEnum):
    DRIVER = "driver"
    COMPANY = "company"
    THIRD_PARTY = "third_party"


class EventKind(enum.StrEnum):
    REPORTED = "reported"
    STATUS_CHANGED = "status_changed"
    COMMENT = "comment"
    FIELDS_UPDATED = "fields_updated"
    ATTACHMENT_ADDED = "attachment_added"
    LIABILITY_ASSIGNED = "liability_assigned"
    LIABILITY_REVERSED = "liability_reversed"
    REPORT_RENDERED = "report_rendered"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)"
            " AND (latitude IS NULL) = (position_source IS NULL)",
            name="position_complete",
        ),
        CheckConstraint("deductible_cents >= 0", name="deductible_not_negative"),
        CheckConstraint("repair_cost_cents >= 0", name="repair_cost_not_negative"),
        CheckConstraint("report_bytes > 0", name="report_bytes_positive"),
        Index("ix_incidents_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[IncidentType] = enum_column(IncidentType)
    status: Mapped[IncidentStatus] = enum_column(IncidentStatus, default=IncidentStatus.REPORTED)
    occurred_at: Mapped[Timestamp]
    place: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    position_source: Mapped[PositionSource | None] = enum_column(PositionSource)
    description: Mapped[str] = mapped_column(Text)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    # What the insurer and the authorities said.
    insurer: Mapped[str | None] = mapped_column(String(100))
    insurer_report_number: Mapped[str | None] = mapped_column(String(40))
    claim_number: Mapped[str | None] = mapped_column(String(40))
    adjuster: Mapped[str | None] = mapped_column(String(200))
    police_folio: Mapped[str | None] = mapped_column(String(60))  # or a fine's folio
    workshop: Mapped[str | None] = mapped_column(String(200))
    deductible_cents: Mapped[Cents | None]
    deductible_payer: Mapped[DeductiblePayer | None] = enum_column(DeductiblePayer)
    repair_cost_cents: Mapped[Cents | None]
    vehicle_recovered: Mapped[bool] = mapped_column(default=False)  # theft only

    # The PDF report for the insurer, rendered by a job and stored by checksum.
    report_requested_at: Mapped[Timestamp | None]
    report_rendered_at: Mapped[Timestamp | None]
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    report_bytes: Mapped[int | None]

    status_changed_at: Mapped[Created]
    created_at: Mapped[Created]

    vehicle: Mapped[Vehicle] = relationship()
    driver: Mapped[Driver] = relationship()
    contract: Mapped[Contract | None] = relationship()
    reported_by: Mapped[User] = relationship()
    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id"
    )
    attachments: Mapped[list[IncidentAttachment]] = relationship(
        back_populates="incident", order_by="IncidentAttachment.id"
    )

    @property
    def number(self) -> str:
        """The folio staff and insurers quote: INC-000123."""
        return f"INC-{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def report_pending(self) -> bool:
        if self.report_requested_at is None:
            return False
        return self.report_rendered_at is None or self.report_rendered_at < self.report_requested_at

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.type} {self.status}>"


class IncidentEvent(Base):
    """One line of an incident's timeline: a status change, a comment, an edit."""

    __tablename__ = "incident_events"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'status_changed') = (to_status IS NOT NULL)", name="status_change_has_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[Created]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    kind: Mapped[EventKind] = enum_column(EventKind)
    from_status: Mapped[IncidentStatus | None] = enum_column(IncidentStatus, name="from_status")
    to_status: Mapped[IncidentStatus | None] = enum_column(IncidentStatus, name="to_status")
    body: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<IncidentEvent {self.id} {self.kind}>"


class IncidentAttachment(Base):
    """A photo or document of an incident; the bytes live in the file store by checksum."""

    __tablename__ = "incident_attachments"
    __table_args__ = (
        UniqueConstraint("incident_id", "sha256", name="uq_incident_attachments_incident_sha256"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp', 'application/pdf')",
            name="content_type_allowed",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    original_name: Mapped[str] = mapped_column(String(200))
    width: Mapped[int | None]
    height: Mapped[int | None]
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]

    incident: Mapped[Incident] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User] = relationship()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self) -> str:
        return f"<IncidentAttachment {self.id} {self.content_type}>"
