"""The people who log in: staff, managers and admins by e-mail (a driver's user comes
from the driver record), their roles, deactivation and unlocking.

A user is never deleted: their name stays on every audit event, ledger entry and
incident they touched. Deactivating one ends their sessions and keeps the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import Role, User
from portal.passwords import hash_password

from . import N_, DomainError, FieldError, NotAllowed, audit
from .accounts import MIN_PASSWORD_LENGTH, end_sessions

#: Roles that log in with an e-mail; drivers log in with their phone.
STAFF_ROLES = (Role.STAFF, Role.MANAGER, Role.ADMIN)
#: A password nobody can type: the user sets theirs with a reset code.
NO_PASSWORD = "!"  # noqa: S105 - not a password: a hash no password matches


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    full_name: str
    role: Role
    password: str | None = None  # None: the person sets it with a reset code


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise FieldError("email", N_("Write a valid e-mail address.")) from None


def check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FieldError(
            field,
            N_("The password needs at least %(count)d characters."),
            count=MIN_PASSWORD_LENGTH,
        )


def _check_may_grant(actor: User | None, role: Role) -> None:
    """Only an admin makes an admin (`actor` None: the command line, run by the operator)."""
    if role == Role.DRIVER:
        raise FieldError("role", N_("A driver's access comes from the driver's record."))
    if role == Role.ADMIN and actor is not None and actor.role != Role.ADMIN:
        raise NotAllowed(N_("Only an administrator can make someone an administrator."))


def create_user(
    session: Session, data: NewUser, *, actor: User | None, ip: str | None = None
) -> User:
    """A staff, manager or admin account, by e-mail."""
    _check_may_grant(actor, data.role)
    email = normalize_email(data.email)
    name = data.full_name.strip()
    if len(name) < 3:
        raise FieldError("full_name", N_("Write the person's full name."))
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise FieldError("email", N_("Someone already has that e-mail."))
    if data.password is not None:
        check_password(data.password)
    user = User(
        email=email,
        full_name=name[:200],
        role=data.role,
        password_hash=hash_password(data.password) if data.password else NO_PASSWORD,
        password_changed_at=utcnow() if data.password else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor.id if actor else None, "user.created", user, ip=ip, role=data.role.value
    )
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise DomainError(N_("That user does not exist."))
    return user


def list_users(
    session: Session, *, role: Role | None = None, active: bool | None = None
) -> list[User]:
    query = select(User).order_by(User.is_active.desc(), User.role, User.full_name)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return list(session.scalars(query))


def change_role(
    session: Session, user: User, role: Role, *, actor: User, ip: str | None = None
) -> None:
    if user.role == Role.DRIVER:
        raise FieldError("role", N_("A driver's access comes from the driver's record."))
    _check_may_grant(actor, role)
    if user.role == Role.ADMIN and actor.role != Role.ADMIN:
        raise NotAllowed(N_("Only an administrator can change an administrator's role."))
    if user.id == actor.id:
        raise FieldError("role", N_("You cannot change your own role."))
    if user.role == role:
        return
    before = user.role
    user.role = role
    end_sessions(user)  # a narrower role must not linger in an open session
    session.flush()
    audit.record(
        session, actor.id, "user.role_changed", user, ip=ip, before=before.value, after=role.value
    )


def deactivate(
    session: Session, user: User, *, actor: User, reason: str = "", ip: str | None = None
) -> None:
    """No more log-ins and every session ends; the user and their history stay."""
    if user.id == actor.id:
        raise DomainError(N_("You cannot deactivate yourself."))
    if user.role == Role.ADMIN and actor.role != Role.ADMIN:
        raise NotAllowed(N_("Only an administrator can deactivate an administrator."))
    if not user.is_active:
        return
    user.is_active = False
    user.deactivated_at = utcnow()
    end_sessions(user)
    session.flush()
    audit.record(session, actor.id, "user.deactivated", user, ip=ip, reason=reason.strip() or None)


def reactivate(session: Session, user: User, *, actor: User, ip: str | None = None) -> None:
    if user.role == Role.ADMIN and actor.role != Role.ADMIN:
        raise NotAllowed(N_("Only an administrator can reactivate an administrator."))
    if user.is_active:
        return
    user.is_active = True
    user.deactivated_at = None
    session.flush()
    audit.record(session, actor.id, "user.reactivated", user, ip=ip)


def unlock(session: Session, user: User, *, actor: User, ip: str | None = None) -> None:
    """Lift a lock-out after too many failed log-ins."""
    if user.locked_until is None and user.failed_logins == 0:
        return
    user.locked_until = None
    user.failed_logins = 0
    session.flush()
    audit.record(session, actor.id, "user.unlocked", user, ip=ip)
