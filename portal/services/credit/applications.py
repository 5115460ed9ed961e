"""Credit applications as staff capture them: applicant data, consent, submission,
withdrawal, and the lists of the credit pages.

Plain functions taking a session; they flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import clock
from portal.models import (
    ApplicationStatus,
    CreditApplication,
    EarningsDay,
    PlatformAccount,
)
from portal.services import N_, DomainError, FieldError, audit
from portal.services.identifiers import (
    is_valid_curp,
    normalize_phone,
    rfc_check_ok,
    rfc_shape_ok,
)

CONSENT_TEXT_VERSION = "2025-01"


PRIVACY_NOTICE_VERSION = "2025-01"


VEHICLES = ("BYD Dolphin Mini", "JAC E10X")


EDITABLE = frozenset(
    {
        ApplicationStatus.DRAFT,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.SCORING,
        ApplicationStatus.SCORED,
        ApplicationStatus.REFERRED,
    }
)


@dataclass
class ApplicantData:
    first_name: str
    last_name: str
    curp: str
    phone: str
    requested_vehicle: str
    second_last_name: str | None = None
    rfc: str | None = None
    email: str | None = None
    licence_number: str | None = None
    licence_expires_on: date | None = None
    address: str | None = None


def _clean(data: ApplicantData, today: date) -> dict[str, Any]:
    curp = data.curp.strip().upper()
    if not is_valid_curp(curp):
        raise FieldError("curp", N_("The CURP is not valid; check the 18 characters."))
    rfc = (data.rfc or "").strip().upper() or None
    if rfc is not None and not rfc_shape_ok(rfc):
        raise FieldError("rfc", N_("The RFC does not have the shape of an RFC (13 characters)."))
    phone = normalize_phone(data.phone or "")
    if phone is None:
        raise FieldError("phone", N_("Write a 10-digit mobile number."))
    if not data.first_name.strip() or not data.last_name.strip():
        raise FieldError("first_name", N_("Write the applicant's name and last name."))
    if data.requested_vehicle not in VEHICLES:
        raise FieldError("requested_vehicle", N_("Choose one of the vehicles we lease."))
    if data.licence_expires_on is not None and data.licence_expires_on < today:
        raise FieldError("licence_expires_on", N_("The driving licence has expired."))
    return {
        "first_name": data.first_name.strip(),
        "last_name": data.last_name.strip(),
        "second_last_name": (data.second_last_name or "").strip() or None,
        "curp": curp,
        "rfc": rfc,
        "phone": phone,
        "email": (data.email or "").strip().lower() or None,
        "licence_number": (data.licence_number or "").strip() or None,
        "licence_expires_on": data.licence_expires_on,
        "address": (data.address or "").strip() or None,
        "requested_vehicle": data.requested_vehicle,
    }


def rfc_warning(application: CreditApplication) -> bool:
    """True when the RFC has the right shape but its check digit does not match (a
    warning only: SAT has issued RFCs whose digit the public algorithm does not give)."""
    return application.rfc is not None and not rfc_check_ok(application.rfc)


def create_application(
    session: Session,
    data: ApplicantData,
    *,
    actor_id: int | None,
    today: date,
    driver_id: int | None = None,
    ip: str | None = None,
) -> CreditApplication:
    application = CreditApplication(
        **_clean(data, today),
        created_by_id=actor_id,
        driver_id=driver_id,
        status=ApplicationStatus.DRAFT,
    )
    session.add(application)
    session.flush()
    audit.record(session, actor_id, "credit.application_created", application, ip=ip)
    return application


def update_application(
    session: Session,
    application: CreditApplication,
    data: ApplicantData,
    *,
    actor_id: int | None,
    today: date,
    ip: str | None = None,
) -> bool:
    """Apply new applicant data; True if the application must be scored again."""
    check_editable(application)
    values = _clean(data, today)
    changed = {k: v for k, v in values.items() if getattr(application, k) != v}
    for key, value in changed.items():
        setattr(application, key, value)
    if changed:
        audit.record(
            session,
            actor_id,
            "credit.application_updated",
            application,
            ip=ip,
            fields=sorted(changed),
        )
    return bool(changed) and data_changed(application)


def check_editable(application: CreditApplication) -> None:
    if application.status not in EDITABLE:
        raise DomainError(N_("This application is closed; it can no longer change."))


def data_changed(application: CreditApplication) -> bool:
    """Note a change to scored data; True if the application must be scored again."""
    application.revision += 1
    if application.status == ApplicationStatus.DRAFT:
        return False
    application.status = ApplicationStatus.SCORING
    application.scoring_error = None
    return True


def record_consent(
    session: Session,
    application: CreditApplication,
    *,
    recorded_by_id: int | None,
    ip: str | None,
    now: datetime | None = None,
) -> None:
    """Record the applicant's authorization for checks and the privacy notice shown."""
    if application.consent_at is not None:
        return
    application.consent_at = now or clock.now()
    application.consent_text_version = CONSENT_TEXT_VERSION
    application.privacy_notice_version = PRIVACY_NOTICE_VERSION
    application.consent_recorded_by_id = recorded_by_id
    application.consent_ip = ip
    session.flush()
    audit.record(
        session,
        recorded_by_id,
        "credit.consent_recorded",
        application,
        ip=ip,
        consent_text_version=CONSENT_TEXT_VERSION,
        privacy_notice_version=PRIVACY_NOTICE_VERSION,
    )


def check_scorable(application: CreditApplication) -> None:
    """Refuse to score without a valid CURP or the applicant's recorded consent."""
    if not is_valid_curp(application.curp or ""):
        raise DomainError(N_("The CURP is not valid; the application cannot be scored."))
    if application.consent_at is None:
        raise DomainError(
            N_("The applicant's consent is not recorded; the application cannot be scored.")
        )


def submit_application(
    session: Session, application: CreditApplication, *, actor_id: int | None, ip: str | None
) -> None:
    """Send a draft for scoring (the caller queues the job after the commit)."""
    if application.status != ApplicationStatus.DRAFT:
        raise DomainError(N_("Only a draft can be submitted."))
    check_scorable(application)
    has_earnings = session.scalar(
        select(func.count(EarningsDay.id)).where(EarningsDay.application_id == application.id)
    )
    has_profile = session.scalar(
        select(func.count(PlatformAccount.id)).where(
            PlatformAccount.application_id == application.id
        )
    )
    if not has_earnings and not has_profile:
        raise DomainError(
            N_("Import the applicant's platform earnings or type a profile before submitting.")
        )
    application.status = ApplicationStatus.SCORING
    application.submitted_at = clock.now()
    application.scoring_error = None
    application.revision += 1
    session.flush()
    audit.record(session, actor_id, "credit.application_submitted", application, ip=ip)


def withdraw_application(
    session: Session, application: CreditApplication, *, actor_id: int, ip: str | None
) -> None:
    check_editable(application)
    application.status = ApplicationStatus.WITHDRAWN
    session.flush()
    audit.record(session, actor_id, "credit.application_withdrawn", application, ip=ip)


def list_applications(
    session: Session,
    *,
    status: ApplicationStatus | None = None,
    search: str = "",
    limit: int = 200,
) -> list[CreditApplication]:
    query = select(CreditApplication).order_by(CreditApplication.created_at.desc())
    if status is not None:
        query = query.where(CreditApplication.status == status)
    term = search.strip()
    if term:
        like = f"%{term}%"
        query = query.where(
            CreditApplication.first_name.ilike(like)
            | CreditApplication.last_name.ilike(like)
            | CreditApplication.curp.ilike(like)
            | CreditApplication.phone.ilike(like)
        )
    return list(session.scalars(query.limit(limit)))


def status_counts(session: Session) -> dict[ApplicationStatus, int]:
    rows = session.execute(
        select(CreditApplication.status, func.count()).group_by(CreditApplication.status)
    ).all()
    counts = dict.fromkeys(ApplicationStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts
