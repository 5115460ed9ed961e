"""Log-in, lock-out and password changes.

The lock-out: `max_failures` wrong passwords in a row lock an account for
`lockout`. The count is kept in the user's row and moved atomically (an UPDATE that
adds one and holds the row until the request commits, so parallel guesses queue
behind each other instead of all writing the same count). An identifier with no
account gets the same lock-out from `IdentityLockouts` (kept beside the rate limits),
so the answer never tells whether an account exists, and it says how long to wait.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
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
    """Too many failures with this identifier (an account or not): wait `retry_after`."""

    def __init__(self, until: datetime, now: datetime) -> None:
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        super().__init__(
            N_("Too many failed attempts. Try again in %(minutes)d min."),
            minutes=max(1, round(self.retry_after / 60)),
        )


class IdentityLockouts(Protocol):
    """The lock-out of identifiers that match no account, counted like an account's."""

    def locked_until(self, identity: str) -> datetime | None: ...

    def record_failure(
        self, identity: str, *, max_failures: int, lockout: timedelta, now: datetime
    ) -> None: ...


def login_identity(identifier: str) -> str | None:
    """The identifier as the accounts store it (lower-case e-mail, 10-digit phone)."""
    identifier = identifier.strip()
    if "@" in identifier:
        return identifier.lower()
    return normalize_phone(identifier)


def find_user(session: Session, identifier: str) -> User | None:
    """Drivers log in with their 10-digit mobile number, staff with their e-mail."""
    identity = login_identity(identifier)
    if identity is None:
        return None
    column = User.email if "@" in identity else User.phone
    return session.scalar(select(User).where(column == identity))


def authenticate(
    session: Session,
    identifier: str,
    password: str,
    *,
    max_failures: int,
    lockout: timedelta,
    others: IdentityLockouts,
    now: datetime | None = None,
) -> User:
    """The user with this identifier and password, or LoginFailed / AccountLocked.

    Both ways cost the same (an Argon2 verification, against a dummy hash when there is
    no account) and lock the same way (`others` for identifiers without an account).
    """
    now = now or utcnow()
    identity = login_identity(identifier)
    user = find_user(session, identifier)
    if user is None:
        until = others.locked_until(identity) if identity else None
        if until is not None and until > now:
            raise AccountLocked(until, now)
        verify_password(None, password)
        if identity:
            others.record_failure(identity, max_failures=max_failures, lockout=lockout, now=now)
        raise LoginFailed(N_("The phone, e-mail or password is not right."))
    attempt = _count_attempt(session, user, now)
    if attempt is None:
        raise AccountLocked(user.locked_until or now, now)
    if not verify_password(user.password_hash, password) or not user.is_active:
        if attempt >= max_failures:
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


def _count_attempt(session: Session, user: User, now: datetime) -> int | None:
    """Count this attempt against the account, in one statement; None if it is locked.

    The row stays locked until the caller commits, so a parallel guess waits here and
    then sees this one's count (or the lock-out it caused).
    """
    attempt = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    session.expire(user, ["failed_logins", "locked_until"])
    return attempt


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
    end_sessions(user)
    audit.record(session, user.id, "user.password_changed", user, ip=ip)


def end_sessions(user: User) -> None:
    """End every session of `user`, on every device (log out everywhere).

    Each session carries the user's `session_version` from its log-in and every
    request compares it with the row (`portal.sessions`), so one atomic increment
    ends them all. Call it on a password change or reset, a deactivation, or when the
    user asks; the caller commits (and may re-stamp the session it keeps).
    """
    user.session_version = User.session_version + 1  # in SQL: concurrent bumps add up
    session = object_session(user)
    if session is not None:
        session.flush()


def set_locale(session: Session, user: User, locale: str) -> None:
    user.locale = locale
    session.flush()
