"""A way back into an account: a one-time code and link, single use, 30 minutes.

Issued by staff to the person (shown once on their screen, or sent to a driver's
phone), or asked for on the log-in page ("¿Olvidaste tu contraseña?") and sent to the
driver's phone by SMS. Only hashes are kept (see `PasswordReset`). A newer reset voids
the older ones; a few wrong codes void it; using it sets the new password, lifts a
lock-out and ends every session of the user.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import PasswordReset, ResetChannel, Role, User
from portal.passwords import hash_password, verify_password
from portal.sms import SmsClient, SmsError, SmsMessage

from . import N_, DomainError, NotAllowed, audit
from .accounts import end_sessions, find_user
from .users import check_password

RESET_MINUTES = 30
MAX_CODE_ATTEMPTS = 5


class ResetRefused(DomainError):
    """The code or link is wrong, used, expired or void (one message for all)."""


@dataclass(frozen=True, slots=True)
class IssuedReset:
    reset: PasswordReset
    code: str  # six digits, shown or sent once, never stored
    token: str  # the link's secret, shown or sent once, never stored

    @property
    def shown_on_screen(self) -> bool:
        return self.reset.channel in (ResetChannel.STAFF, ResetChannel.DEMO)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _void_open(session: Session, user_id: int, now: datetime) -> None:
    session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.user_id == user_id,
            PasswordReset.used_at.is_(None),
            PasswordReset.voided_at.is_(None),
        )
        .values(voided_at=now)
    )


def _issue(
    session: Session,
    user: User,
    channel: ResetChannel,
    *,
    issued_by_id: int | None,
    ip: str | None,
    now: datetime,
) -> IssuedReset:
    _void_open(session, user.id, now)
    code = f"{secrets.randbelow(10**6):06d}"
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user.id,
        channel=channel,
        code_hash=hash_password(code),
        token_sha256=_sha256(token),
        issued_by_id=issued_by_id,
        ip=ip,
        expires_at=now + timedelta(minutes=RESET_MINUTES),
        created_at=now,
    )
    session.add(reset)
    session.flush()
    audit.record(session, issued_by_id, "user.reset_issued", user, ip=ip, channel=channel.value)
    return IssuedReset(reset, code, token)


def may_issue_for(actor: User, user: User) -> bool:
    """Admins reset anyone; staff and managers reset drivers only."""
    return actor.role == Role.ADMIN or (actor.is_staff and user.role == Role.DRIVER)


def issue_reset(
    session: Session,
    user: User,
    *,
    actor: User,
    sms: SmsClient | None = None,
    message: Callable[[str], str] | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> IssuedReset:
    """Staff hand a code and link to the person: shown on the staff screen, or, with
    `sms` and `message` (the text around the code), sent to the driver's phone."""
    if not may_issue_for(actor, user):
        raise NotAllowed(N_("Only an administrator can reset the access of staff."))
    if not user.is_active:
        raise DomainError(N_("The account is deactivated; reactivate it first."))
    now = now or utcnow()
    if sms is None or message is None or sms.shows_on_screen:
        return _issue(session, user, ResetChannel.STAFF, issued_by_id=actor.id, ip=ip, now=now)
    if user.phone is None:
        raise DomainError(N_("This account has no phone to send the code to."))
    issued = _issue(session, user, ResetChannel.SMS, issued_by_id=actor.id, ip=ip, now=now)
    _send(issued, sms, user.phone, message)
    return issued


def request_reset(
    session: Session,
    identifier: str,
    *,
    sms: SmsClient,
    message: Callable[[str], str],
    ip: str | None = None,
    now: datetime | None = None,
) -> IssuedReset | None:
    """ "¿Olvidaste tu contraseña?": a code to the phone of the driver with that number.

    None when no active driver has that number: the page answers the same either way,
    so it tells nobody who has an account. Staff (e-mail) ask an administrator. In the
    demonstration mode the code is returned for the page to show.
    """
    user = find_user(session, identifier)
    if user is None or not user.is_active or user.role != Role.DRIVER or user.phone is None:
        return None
    now = now or utcnow()
    channel = ResetChannel.DEMO if sms.shows_on_screen else ResetChannel.SMS
    issued = _issue(session, user, channel, issued_by_id=None, ip=ip, now=now)
    _send(issued, sms, user.phone, message)
    return issued


def _send(issued: IssuedReset, sms: SmsClient, phone: str, message: Callable[[str], str]) -> None:
    try:
        sent = sms.send(SmsMessage(to=phone, body=message(issued.code)))
    except SmsError as exc:
        raise DomainError(N_("The text message could not be sent; try again later.")) from exc
    issued.reset.provider_message_id = sent.provider_message_id[:64]


def _open_resets(session: Session, user_id: int, now: datetime) -> list[PasswordReset]:
    return list(
        session.scalars(
            select(PasswordReset)
            .where(
                PasswordReset.user_id == user_id,
                PasswordReset.used_at.is_(None),
                PasswordReset.voided_at.is_(None),
                PasswordReset.expires_at > now,
            )
            .order_by(PasswordReset.created_at.desc())
            .with_for_update()
        )
    )


def reset_for_token(session: Session, token: str, now: datetime | None = None) -> PasswordReset:
    """The open reset a link carries, or ResetRefused."""
    now = now or utcnow()
    reset = session.scalar(
        select(PasswordReset).where(PasswordReset.token_sha256 == _sha256(token or ""))
    )
    if reset is None or not _is_open(reset, now):
        raise ResetRefused(N_("The code or link is not valid or has expired. Ask for a new one."))
    return reset


def _is_open(reset: PasswordReset, now: datetime) -> bool:
    return reset.used_at is None and reset.voided_at is None and reset.expires_at > now


def reset_with_code(
    session: Session,
    identifier: str,
    code: str,
    new_password: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> User:
    """Set a new password with the code sent or handed to the person."""
    check_password(new_password)
    now = now or utcnow()
    refused = ResetRefused(N_("The code or link is not valid or has expired. Ask for a new one."))
    user = find_user(session, identifier)
    if user is None:
        verify_password(None, code)  # the same cost as a real check
        raise refused
    resets = _open_resets(session, user.id, now)
    if not resets:
        raise refused
    reset = resets[0]  # a newer reset voids the older ones
    if not verify_password(reset.code_hash, code.strip()):
        reset.attempts += 1
        if reset.attempts >= MAX_CODE_ATTEMPTS:
            reset.voided_at = now
        session.flush()
        raise refused
    return _use(session, reset, new_password, ip=ip, now=now)


def reset_with_token(
    session: Session,
    token: str,
    new_password: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> User:
    """Set a new password from the link."""
    check_password(new_password)
    now = now or utcnow()
    reset = reset_for_token(session, token, now)
    session.refresh(reset, with_for_update=True)
    if not _is_open(reset, now):
        raise ResetRefused(N_("The code or link is not valid or has expired. Ask for a new one."))
    return _use(session, reset, new_password, ip=ip, now=now)


def _use(
    session: Session, reset: PasswordReset, new_password: str, *, ip: str | None, now: datetime
) -> User:
    user = reset.user
    if not user.is_active:
        raise ResetRefused(N_("The code or link is not valid or has expired. Ask for a new one."))
    reset.used_at = now
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    end_sessions(user)
    session.flush()
    audit.record(session, user.id, "user.password_reset", user, ip=ip, reset_id=reset.id)
    return user
