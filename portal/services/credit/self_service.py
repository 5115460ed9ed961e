"""The public application form: abuse limits (per address, per CURP; a repeat of an
open application is linked to it, never refused) and the application an applicant sends themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import clock
from portal.models import (
    ApplicationStatus,
    CreditApplication,
)
from portal.services import N_, DomainError, FieldError, audit
from portal.services.credit.applications import (
    ApplicantData,
    _clean,
    create_application,
    record_consent,
    submit_application,
)
from portal.services.credit.earnings import (
    ProfileData,
    import_earnings,
    parse_earnings,
    record_platform_profile,
)

OPEN = frozenset(
    {
        ApplicationStatus.DRAFT,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.SCORING,
        ApplicationStatus.SCORED,
        ApplicationStatus.REFERRED,
    }
)


#: Abuse limits of the public form: applications sent from one address in a day, and
#: with one CURP in 30 days (whatever became of them).
SELF_SERVICE_PER_IP_PER_DAY = 5


SELF_SERVICE_PER_CURP_PER_30_DAYS = 3


class TooManyApplications(DomainError):
    """The public form's limit per address or per CURP was reached (the web layer: 429)."""


def check_self_service_limits(
    session: Session, *, curp: str, ip: str | None, now: datetime
) -> None:
    """Refuse when this address or this CURP sent too many applications lately. (That
    the CURP has an open application is not a refusal: saying so would tell anyone who
    types a CURP that its owner applied; `apply_as_applicant` links the repeat.)"""
    curp = curp.strip().upper()
    sent = select(func.count(CreditApplication.id)).where(CreditApplication.self_service)
    if ip is not None:
        from_ip = session.scalar(
            sent.where(
                CreditApplication.consent_ip == ip,
                CreditApplication.created_at >= now - timedelta(days=1),
            )
        )
        if (from_ip or 0) >= SELF_SERVICE_PER_IP_PER_DAY:
            raise TooManyApplications(
                N_(
                    "Too many applications were sent from this connection today. "
                    "Try again tomorrow or call us."
                )
            )
    with_curp = session.scalar(
        sent.where(
            CreditApplication.curp == curp,
            CreditApplication.created_at >= now - timedelta(days=30),
        )
    )
    if (with_curp or 0) >= SELF_SERVICE_PER_CURP_PER_30_DAYS:
        raise TooManyApplications(
            N_("This CURP has sent several applications this month. Call us to continue.")
        )


@dataclass
class EarningsFile:
    content: bytes
    filename: str


def apply_as_applicant(
    session: Session,
    data: ApplicantData,
    *,
    profiles: Sequence[ProfileData],
    earnings: EarningsFile | None,
    ip: str | None,
    today: date,
    now: datetime | None = None,
) -> CreditApplication:
    """An application sent by the applicant from the public form: created, consent
    recorded (no member of staff), earnings imported and profiles stored, and submitted
    for scoring (the caller queues the job after the commit). All or nothing: a
    refusal raises before anything the caller commits."""
    now = now or clock.now()
    _clean(data, today)  # field errors first, before any lookup
    check_self_service_limits(session, curp=data.curp, ip=ip, now=now)
    if earnings is None and not profiles:
        raise FieldError(
            "file",
            N_("Upload the export of your platforms or type the profile of at least one."),
        )
    if earnings is not None:
        try:  # checked first so that its error lands on the form's file field
            parse_earnings(earnings.content, earnings.filename, today)
        except DomainError as error:
            raise FieldError("file", error.message, **error.params) from None
    application = create_application(session, data, actor_id=None, today=today, ip=ip)
    application.self_service = True
    record_consent(session, application, recorded_by_id=None, ip=ip, now=now)
    if earnings is not None:
        import_earnings(
            session,
            application,
            earnings.content,
            earnings.filename,
            actor_id=None,
            today=today,
            ip=ip,
        )
    for profile in profiles:
        record_platform_profile(session, application, profile, actor_id=None, today=today, ip=ip)
    submit_application(session, application, actor_id=None, ip=ip)
    _link_repeat(session, application, ip=ip)
    return application


def _link_repeat(session: Session, application: CreditApplication, *, ip: str | None) -> None:
    """A public application with the CURP of an open one (any channel) is taken like any
    other, so the form tells nobody that the CURP has applied, and linked to the
    oldest open one for staff to review both (`repeat_of_id`, audited on the open one)."""
    open_one = session.scalar(
        select(CreditApplication)
        .where(
            CreditApplication.curp == application.curp,
            CreditApplication.status.in_(OPEN),
            CreditApplication.id != application.id,
        )
        .order_by(CreditApplication.created_at, CreditApplication.id)
        .limit(1)
    )
    if open_one is None:
        return
    application.repeat_of_id = open_one.id
    session.flush()
    audit.record(
        session, None, "credit.application_repeated", open_one, ip=ip, repeat_id=application.id
    )
