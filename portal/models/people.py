"""People: users who log in, and drivers who lease the cars."""

from __future__ import annotations

import enum
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

from ._types import Created, Timestamp, enum_column

if TYPE_CHECKING:
    from .credit import CreditApplication
    from .fleet import Contract


class Role(enum.StrEnum):
    DRIVER = "driver"
    STAFF = "staff"
    MANAGER = "manager"
    ADMIN = "admin"


class DriverStatus(enum.StrEnum):
    APPLICANT = "applicant"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    FORMER = "former"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_login"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(10), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = enum_column(Role)
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="es_MX")
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[Timestamp | None]
    last_login_at: Mapped[Timestamp | None]
    password_changed_at: Mapped[Timestamp | None]
    # Written into each session at log-in and checked on every request: bumping it
    # (`services.accounts.end_sessions`) ends every session of the user.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    deactivated_at: Mapped[Timestamp | None]
    created_at: Mapped[Created]

    driver: Mapped[Driver | None] = relationship(
        back_populates="user", foreign_keys="Driver.user_id"
    )

    # Flask-Login's protocol, without importing Flask here.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.MANAGER, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Driver(Base):
    __tablename__ = "drivers"
    __table_args__ = (
        CheckConstraint("charge_target_pct BETWEEN 50 AND 100", name="charge_target_pct_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    second_last_name: Mapped[str | None] = mapped_column(String(100))
    curp: Mapped[str] = mapped_column(String(18), unique=True)
    rfc: Mapped[str | None] = mapped_column(String(13))
    phone: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(254))
    licence_number: Mapped[str | None] = mapped_column(String(30))
    licence_expires_on: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[DriverStatus] = enum_column(DriverStatus, default=DriverStatus.APPLICANT)
    # The approved credit application the driver came from (None: entered by hand).
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_applications.id", use_alter=True), unique=True
    )
    # The privacy notice and the consent for checks (carried over from the application,
    # or recorded by staff when the driver is entered by hand).
    consent_at: Mapped[Timestamp | None]
    privacy_notice_version: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Created]
    # How full the driver wants their car when smart charging plans it (None: the
    # policy's `portal.services.charging.smart.TARGET_SOC`).
    charge_target_pct: Mapped[int | None] = mapped_column(SmallInteger)

    user: Mapped[User | None] = relationship(back_populates="driver", foreign_keys=[user_id])
    application: Mapped[CreditApplication | None] = relationship(foreign_keys=[application_id])
    contracts: Mapped[list[Contract]] = relationship(back_populates="driver")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name, self.second_last_name) if p)

    def __repr__(self) -> str:
        return f"<Driver {self.id} {self.curp}>"


class ResetChannel(enum.StrEnum):
    STAFF = "staff"  # issued by staff and handed to the person (shown once on screen)
    SMS = "sms"  # requested on the log-in page and sent to the driver's phone
    DEMO = "demo"  # requested on the log-in page in demonstration mode: shown on screen


class PasswordReset(Base):
    """A one-time way back into an account: a 6-digit code and a link token.

    Both are kept only as hashes (the code with Argon2, since six digits are few; the
    link's 256-bit token with SHA-256). Single use, valid for 30 minutes, void after a
    few wrong codes or when a newer reset is issued for the same user.
    """

    __tablename__ = "password_resets"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_password_resets_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[ResetChannel] = enum_column(ResetChannel)
    code_hash: Mapped[str] = mapped_column(String(255))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    expires_at: Mapped[Timestamp]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[Timestamp | None]
    voided_at: Mapped[Timestamp | None]
    # What the SMS provider answered (its message id), when sent by SMS.
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[Created]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])

    def __repr__(self) -> str:
        return f"<PasswordReset {self.id} user {self.user_id}>"
