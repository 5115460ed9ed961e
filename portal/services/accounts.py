"""Log-in, lock-out and password changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from portal.db import utcnow
from portal.models import User
from portal.passwords import hash_password, needs_rehash, verify_password

from . import N_, DomainError, audit
from .identifiers import normalize_phone

MIN_PASSWORD_LENGTH = 10


class LoginFailed(DomainError):
    """Wrong identifier or password. Deliberately says nothing about which."""


class AccountLocked(DomainError):
    pass


def find_user(session: Session, identifier: str) -> User | None:
    """Drivers log in with their 10-digit mobile number, staff with their e-mail."""
    identifier = identifier.strip()
    if "@" in identifier:
        return session.scalar(select(User).where(User.email == identifier.lower()))
    phone = normalize_phone(identifier)
    if phone is None:
        return None
    return session.scalar(select(User).where(User.phone == phone))


def authenticate(
    session: Session,
    identifier: str,
    password: str,
    *,
    max_failures: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> User:
    now = now or utcnow()
    user = find_user(session, identifier)
    if user is not None and user.locked_until and user.locked_until > now:
        raise AccountLocked(N_("Too many failed attempts. Try again in a few minutes."))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not user.is_active or not ok:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + lockout
                user.failed_logins = 0
                audit.record(session, None, "account.locked", user)
            session.flush()
        raise LoginFailed(N_("The phone, e-mail or password is not right."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user


def change_password(
    session: Session, user: User, current: str, new: str, ip: str | None = None
) -> None:
    if not verify_password(user.password_hash, current):
        raise DomainError(N_("The current password is not right."))
    if len(new) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            N_("The new password needs at least %(count)d characters."), count=MIN_PASSWORD_LENGTH
        )
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    audit.record(session, user.id, "user.password_changed", user, ip=ip)


def end_sessions(user: User) -> None:
    """End every session of `user`, on every device (a reset, a deactivation).

    The security work adds `users.session_version` (its migration 0018), written into
    each session at log-in and checked on every request; one increment in SQL ends
    them all. Until that column is in the schema a deactivated user's sessions still
    end (`security.load_user` refuses inactive users) and a reset's do not.
    """
    if hasattr(User, "session_version"):
        user.session_version = User.session_version + 1  # type: ignore[attr-defined]
        session = object_session(user)
        if session is not None:
            session.flush()


def set_locale(session: Session, user: User, locale: str) -> None:
    user.locale = locale
    session.flush()
