"""Drivers: from an approved credit application in one action, or by hand; their
contact data; suspension and reactivation.

A driver logs in with their phone: creating the driver creates that user, with no
password yet (staff hand them a reset code, or they ask for one on the log-in page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    CreditApplication,
    Driver,
    DriverStatus,
    Role,
    User,
)

from . import N_, DomainError, FieldError, audit
from .identifiers import is_valid_curp, normalize_phone, rfc_shape_ok
from .users import NO_PASSWORD, normalize_email

LICENCE_MAX = 30


@dataclass(frozen=True, slots=True)
class DriverData:
    first_name: str
    last_name: str
    curp: str
    phone: str
    second_last_name: str | None = None
    rfc: str | None = None
    email: str | None = None
    licence_number: str | None = None
    licence_expires_on: date | None = None
    address: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class ContactData:
    phone: str
    email: str | None = None
    address: str | None = None
    postal_code: str | None = None
    licence_number: str | None = None
    licence_expires_on: date | None = None


def clean_phone(raw: str) -> str:
    phone = normalize_phone(raw)
    if phone is None:
        raise FieldError("phone", N_("Write a 10-digit Mexican mobile number."))
    return phone


def clean_curp(raw: str) -> str:
    curp = raw.strip().upper()
    if not is_valid_curp(curp):
        raise FieldError("curp", N_("The CURP is not valid; check the 18 characters."))
    return curp


def clean_rfc(raw: str | None) -> str | None:
    rfc = (raw or "").strip().upper() or None
    if rfc is not None and not rfc_shape_ok(rfc):
        raise FieldError("rfc", N_("The RFC does not have the shape of an RFC (13 characters)."))
    return rfc


def clean_email(raw: str | None) -> str | None:
    return normalize_email(raw) if raw and raw.strip() else None


def clean_postal_code(raw: str | None) -> str | None:
    code = (raw or "").strip() or None
    if code is not None and not (len(code) == 5 and code.isdigit()):
        raise FieldError("postal_code", N_("A postal code has 5 digits."))
    return code


def check_phone_free(session: Session, phone: str, driver_id: int | None = None) -> None:
    """A phone is one person's log-in: no other driver or user may have it."""
    other = session.scalar(
        select(Driver.id).where(Driver.phone == phone, Driver.status != DriverStatus.FORMER)
    )
    user = session.scalar(select(User).where(User.phone == phone))
    mine = driver_id is not None and (
        other == driver_id or (user is not None and user.driver and user.driver.id == driver_id)
    )
    if (other is not None and other != driver_id) or (user is not None and not mine):
        raise FieldError("phone", N_("Another person already has that mobile number."))


def check_curp_free(session: Session, curp: str) -> None:
    if session.scalar(select(Driver.id).where(Driver.curp == curp)) is not None:
        raise FieldError("curp", N_("A driver with that CURP already exists."))


def _clean(session: Session, data: DriverData, today: date) -> dict[str, object]:
    first, last = data.first_name.strip(), data.last_name.strip()
    if not first:
        raise FieldError("first_name", N_("Write the driver's first name."))
    if not last:
        raise FieldError("last_name", N_("Write the driver's last name."))
    curp = clean_curp(data.curp)
    check_curp_free(session, curp)
    phone = clean_phone(data.phone)
    check_phone_free(session, phone)
    if data.licence_expires_on is not None and data.licence_expires_on < today:
        raise FieldError("licence_expires_on", N_("The driving licence has expired."))
    return {
        "first_name": first[:100],
        "last_name": last[:100],
        "second_last_name": (data.second_last_name or "").strip()[:100] or None,
        "curp": curp,
        "rfc": clean_rfc(data.rfc),
        "phone": phone,
        "email": clean_email(data.email),
        "licence_number": (data.licence_number or "").strip()[:LICENCE_MAX] or None,
        "licence_expires_on": data.licence_expires_on,
        "address": (data.address or "").strip()[:300] or None,
        "postal_code": clean_postal_code(data.postal_code),
    }


def _with_user(values: dict[str, object]) -> Driver:
    name = " ".join(
        str(v) for v in (values["first_name"], values["last_name"], values["second_last_name"]) if v
    )
    user = User(
        phone=values["phone"], full_name=name[:200], role=Role.DRIVER, password_hash=NO_PASSWORD
    )
    return Driver(**values, user=user, status=DriverStatus.ACTIVE)


def create_driver(
    session: Session,
    data: DriverData,
    *,
    actor_id: int | None,
    today: date,
    consent_at: datetime | None = None,
    privacy_notice_version: str | None = None,
    ip: str | None = None,
) -> Driver:
    """A driver entered by hand, with their log-in (their phone, no password yet)."""
    driver = _with_user(_clean(session, data, today))
    driver.created_by_id = actor_id
    driver.consent_at = consent_at
    driver.privacy_notice_version = privacy_notice_version
    session.add(driver)
    session.flush()
    audit.record(session, actor_id, "driver.created", driver, ip=ip, curp=driver.curp)
    return driver


def create_from_application(
    session: Session,
    application: CreditApplication,
    *,
    actor_id: int,
    today: date,
    ip: str | None = None,
) -> Driver:
    """The driver an approved application becomes: identity, CURP, RFC, phone, licence
    and consent carried over. Once per application (a second call returns the driver)."""
    existing = session.scalar(select(Driver).where(Driver.application_id == application.id))
    if existing is not None:
        return existing
    if application.status != ApplicationStatus.APPROVED:
        raise DomainError(N_("Only an approved application becomes a driver."))
    if application.driver_id is not None:  # a renewal: the driver exists already
        driver = session.get(Driver, application.driver_id)
        if driver is not None:
            return driver
    data = DriverData(
        first_name=application.first_name,
        last_name=application.last_name,
        second_last_name=application.second_last_name,
        curp=application.curp,
        phone=application.phone,
        rfc=application.rfc,
        email=application.email,
        licence_number=application.licence_number,
        licence_expires_on=application.licence_expires_on,
        address=application.address,
    )
    driver = create_driver(
        session,
        data,
        actor_id=actor_id,
        today=today,
        consent_at=application.consent_at,
        privacy_notice_version=application.privacy_notice_version,
        ip=ip,
    )
    driver.application_id = application.id
    application.driver_id = driver.id
    session.flush()
    audit.record(
        session, actor_id, "credit.driver_created", application, ip=ip, driver_id=driver.id
    )
    return driver


def update_contact(
    session: Session,
    driver: Driver,
    data: ContactData,
    *,
    actor_id: int,
    today: date,
    ip: str | None = None,
) -> list[str]:
    """Phone, e-mail, address, licence; the phone is the driver's log-in too."""
    phone = clean_phone(data.phone)
    check_phone_free(session, phone, driver.id)
    if (
        data.licence_expires_on is not None
        and data.licence_expires_on != driver.licence_expires_on
        and data.licence_expires_on < today
    ):
        raise FieldError("licence_expires_on", N_("The driving licence has expired."))
    values = {
        "phone": phone,
        "email": clean_email(data.email),
        "address": (data.address or "").strip()[:300] or None,
        "postal_code": clean_postal_code(data.postal_code),
        "licence_number": (data.licence_number or "").strip()[:LICENCE_MAX] or None,
        "licence_expires_on": data.licence_expires_on,
    }
    changed = sorted(k for k, v in values.items() if getattr(driver, k) != v)
    for key in changed:
        setattr(driver, key, values[key])
    if "phone" in changed and driver.user is not None:
        driver.user.phone = phone
    if changed:
        session.flush()
        audit.record(session, actor_id, "driver.updated", driver, ip=ip, fields=changed)
    return changed


def suspend(
    session: Session, driver: Driver, *, actor_id: int, reason: str, ip: str | None = None
) -> None:
    """No new contract while suspended. The driver still logs in to see and pay their
    account; a running contract is suspended on its own (`contracts.suspend`)."""
    reason = reason.strip()
    if len(reason) < 5:
        raise FieldError("reason", N_("Say why the driver is suspended."))
    if driver.status != DriverStatus.ACTIVE:
        raise DomainError(N_("Only an active driver can be suspended."))
    driver.status = DriverStatus.SUSPENDED
    session.flush()
    audit.record(session, actor_id, "driver.suspended", driver, ip=ip, reason=reason)


def reactivate(session: Session, driver: Driver, *, actor_id: int, ip: str | None = None) -> None:
    if driver.status != DriverStatus.SUSPENDED:
        raise DomainError(N_("Only a suspended driver can be reactivated."))
    driver.status = DriverStatus.ACTIVE
    session.flush()
    audit.record(session, actor_id, "driver.reactivated", driver, ip=ip)


def get_driver(session: Session, driver_id: int) -> Driver:
    driver = session.get(Driver, driver_id)
    if driver is None:
        raise DomainError(N_("That driver does not exist."))
    return driver


def search_drivers(session: Session, query: str = "", limit: int = 50) -> list[Driver]:
    """By name, phone or CURP; newest first."""
    statement = select(Driver).order_by(Driver.id.desc()).limit(limit)
    query = query.strip()
    if query:
        like = f"%{query}%"
        phone = normalize_phone(query)
        conditions = [
            (Driver.first_name + " " + Driver.last_name).ilike(like),
            Driver.curp == query.upper(),
        ]
        if phone:
            conditions.append(Driver.phone == phone)
        statement = statement.where(or_(*conditions))
    return list(session.scalars(statement))


def count_drivers(session: Session) -> int:
    return int(session.scalar(select(func.count(Driver.id))) or 0)
