"""Credit applications: capture, consent, earnings import, features, scoring, policy,
decisions and contract proposals.

Plain functions taking a session; they flush, never commit. The model itself is the
``scoring`` engine; this module turns an application into the engine's features and
records what the engine said.

The earnings import format (after the aggregator Palenca's earnings objects) is
documented in ``docs/credit.md``: JSON ``{"platform": ..., "profile": {...},
"earnings": [{"earning_date", "amount", "cash_amount", "count_trips"}, ...]}`` (one
object or a list of them), or CSV with the header
``platform,earning_date,amount,cash_amount,count_trips``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    Contract,
    CreditApplication,
    CreditDecision,
    CreditScore,
    EarningsDay,
    LedgerEntry,
    ModelVersion,
    Outcome,
    Platform,
    PlatformAccount,
    PolicyCutoffs,
    Role,
    Statement,
    User,
)
from portal.services.identifiers import (
    is_valid_curp,
    normalize_phone,
    rfc_check_ok,
    rfc_shape_ok,
)
from portal.services.ledger import charge_due_on, days_past_due
from portal.timeutil import local_date

from . import N_, DomainError, FieldError, NotAllowed, audit

if TYPE_CHECKING:
    from scoring import SavedModel

CONSENT_TEXT_VERSION = "2025-01"
PRIVACY_NOTICE_VERSION = "2025-01"
VEHICLES = ("BYD Dolphin Mini", "JAC E10X")
PLATFORMS_SINCE = 2013  # Uber's first trips in Mexico City
MAX_PLATFORM_DEBT_MXN = 1_000_000
#: Cut-offs used until a manager sets some: approve at 560 points or more (a PD of about
#: 7 %), decline below 525 (about 19 %), refer in between.
DEFAULT_APPROVE_AT = 560
DEFAULT_DECLINE_BELOW = 525
MIN_SCORE, MAX_SCORE = 300, 900
EDITABLE = frozenset(
    {
        ApplicationStatus.DRAFT,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.SCORING,
        ApplicationStatus.SCORED,
        ApplicationStatus.REFERRED,
    }
)
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
OBSERVATION_WEEKS = 26
BAD_DAYS_PAST_DUE = 30
TARGET = "incumplimiento"
FEATURES = (
    "weekly_earnings_mxn",
    "earnings_cv",
    "weekly_trips",
    "tenure_months",
    "rating",
    "acceptance_rate",
    "cancellation_rate",
    "platform_debt_mxn",
    "max_days_past_due",
    "km_per_day",
)


# --------------------------------------------------------------------------- capture


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
    _check_editable(application)
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
    return bool(changed) and _data_changed(application)


def _check_editable(application: CreditApplication) -> None:
    if application.status not in EDITABLE:
        raise DomainError(N_("This application is closed; it can no longer change."))


def _data_changed(application: CreditApplication) -> bool:
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
    application.consent_at = now or datetime.now(UTC)
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
    application.submitted_at = datetime.now(UTC)
    application.scoring_error = None
    application.revision += 1
    session.flush()
    audit.record(session, actor_id, "credit.application_submitted", application, ip=ip)


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
    now = now or datetime.now(UTC)
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


def withdraw_application(
    session: Session, application: CreditApplication, *, actor_id: int, ip: str | None
) -> None:
    _check_editable(application)
    application.status = ApplicationStatus.WITHDRAWN
    session.flush()
    audit.record(session, actor_id, "credit.application_withdrawn", application, ip=ip)


# --------------------------------------------------------------------------- earnings import


@dataclass
class ImportResult:
    rows: int
    platforms: list[str]
    first_day: date | None
    last_day: date | None


def _money(value: Any, where: str, name: str) -> int:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise DomainError(
            N_("%(where)s: %(name)s is not an amount in pesos (%(value)s)."),
            where=where,
            name=name,
            value=str(value)[:20],
        ) from None
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise DomainError(
            N_("%(where)s: %(name)s must be between 0 and 1,000,000 pesos."),
            where=where,
            name=name,
        )
    return int((amount * 100).to_integral_value())


def _platform(value: Any, where: str) -> Platform:
    text = str(value or "").strip().lower()
    if text not in {p.value for p in Platform}:
        raise DomainError(
            N_("%(where)s: unknown platform %(value)s (uber, didi, indrive or cabify)."),
            where=where,
            value=text[:20] or "—",
        )
    return Platform(text)


def _day(value: Any, where: str, today: date) -> date:
    try:
        day = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise DomainError(
            N_("%(where)s: the date must be YYYY-MM-DD (%(value)s)."),
            where=where,
            value=str(value)[:20],
        ) from None
    if day > today or day < today - timedelta(days=400):
        raise DomainError(
            N_("%(where)s: the date %(value)s is in the future or more than a year ago."),
            where=where,
            value=day.isoformat(),
        )
    return day


def _trips(value: Any, where: str) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or int(text) > 500:
        raise DomainError(
            N_("%(where)s: trips must be a whole number from 0 to 500 (%(value)s)."),
            where=where,
            value=text[:20] or "—",
        )
    return int(text)


def _row(
    platform: Platform, raw: dict[str, Any], where: str, today: date
) -> tuple[Platform, date, int, int, int]:
    for key in ("earning_date", "amount"):
        if raw.get(key) in (None, ""):
            raise DomainError(N_("%(where)s: %(name)s is missing."), where=where, name=key)
    amount = _money(raw["amount"], where, "amount")
    cash = _money(raw.get("cash_amount") or 0, where, "cash_amount")
    if cash > amount:
        raise DomainError(N_("%(where)s: the cash amount is larger than the amount."), where=where)
    trips = _trips(raw.get("count_trips", 0), where)
    return platform, _day(raw["earning_date"], where, today), amount, cash, trips


def _profile(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DomainError(N_("%(where)s: the profile must be an object."), where=where)

    def number(key: str, low: float, high: float) -> Decimal | None:
        value = raw.get(key)
        if value in (None, ""):
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or not low <= number <= high:
            raise DomainError(
                N_("%(where)s: %(name)s must be between %(low)s and %(high)s."),
                where=where,
                name=key,
                low=low,
                high=high,
            )
        return number

    first_trip = raw.get("first_trip_date")
    try:
        first_trip_on = date.fromisoformat(str(first_trip)[:10]) if first_trip else None
    except ValueError:
        raise DomainError(
            N_("%(where)s: the date must be YYYY-MM-DD (%(value)s)."),
            where=where,
            value=str(first_trip)[:20],
        ) from None
    trips = number("lifetime_trips", 0, 1_000_000)
    return {
        "rating": number("rating", 1, 5),
        "acceptance_rate": number("acceptance_rate", 0, 1),
        "cancellation_rate": number("cancellation_rate", 0, 1),
        "lifetime_trips": int(trips) if trips is not None else None,
        "first_trip_on": first_trip_on,
        "debt_pending_cents": _money(raw.get("debt_pending") or 0, where, "debt_pending"),
        "debt_paid_cents": _money(raw.get("debt_paid") or 0, where, "debt_paid"),
    }


CSV_HEADER = ("platform", "earning_date", "amount", "cash_amount", "count_trips")


def parse_earnings(
    content: bytes, filename: str, today: date
) -> tuple[list[tuple[Platform, date, int, int, int]], dict[Platform, dict[str, Any]]]:
    """Rows (platform, day, amount, cash, trips) and profiles by platform, or a
    `DomainError` naming the first bad line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(N_("The file is not UTF-8 text.")) from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("{", "[")):
        return _parse_json(text, today)
    return _parse_csv(text, today)


def _parse_csv(
    text: str, today: date
) -> tuple[list[tuple[Platform, date, int, int, int]], dict[Platform, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
        raise DomainError(N_("Line 1: the header must be %(header)s."), header=",".join(CSV_HEADER))
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        where = f"L{number}"
        if len(values) != len(CSV_HEADER):
            raise DomainError(
                N_("%(where)s: expected %(expected)d columns, found %(found)d."),
                where=where,
                expected=len(CSV_HEADER),
                found=len(values),
            )
        raw = dict(zip(CSV_HEADER, values, strict=True))
        rows.append(_row(_platform(raw["platform"], where), raw, where, today))
    if not rows:
        raise DomainError(N_("The file has no earnings rows."))
    return rows, {}


def _line_of(text: str, needle_index: int) -> int:
    return text.count("\n", 0, needle_index) + 1


def _parse_json(
    text: str, today: date
) -> tuple[list[tuple[Platform, date, int, int, int]], dict[Platform, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(
            N_("Line %(line)d: the file is not valid JSON (%(error)s)."),
            line=exc.lineno,
            error=exc.msg,
        ) from None
    accounts = data.get("accounts", data) if isinstance(data, dict) else data
    if isinstance(accounts, dict):
        accounts = [accounts]
    if not isinstance(accounts, list):
        raise DomainError(N_("The JSON must hold one platform object or a list of them."))
    rows = []
    profiles: dict[Platform, dict[str, Any]] = {}
    for a, account in enumerate(accounts, start=1):
        where = f"#{a}"
        if not isinstance(account, dict):
            raise DomainError(N_("%(where)s: expected a platform object."), where=where)
        platform = _platform(account.get("platform"), where)
        if account.get("profile") is not None:
            profiles[platform] = _profile(account["profile"], f"{platform.value}: profile")
        earnings = account.get("earnings", [])
        if not isinstance(earnings, list):
            raise DomainError(N_("%(where)s: earnings must be a list."), where=where)
        for r, raw in enumerate(earnings, start=1):
            where = f"{platform.value} #{r}"
            if not isinstance(raw, dict):
                raise DomainError(N_("%(where)s: expected an earnings object."), where=where)
            rows.append(_row(platform, raw, where, today))
    if not rows and not profiles:
        raise DomainError(N_("The file has no earnings rows."))
    return rows, profiles


def import_earnings(
    session: Session,
    application: CreditApplication,
    content: bytes,
    filename: str,
    *,
    actor_id: int | None,
    today: date,
    ip: str | None = None,
) -> tuple[ImportResult, bool]:
    """Store an aggregator export: one row per (platform, date), replaced when imported
    again; profiles per platform. All or nothing. Returns the result and whether the
    application must be scored again."""
    _check_editable(application)
    rows, profiles = parse_earnings(content, filename, today)
    seen: dict[tuple[Platform, date], tuple[int, int, int]] = {}
    for platform, day, amount, cash, trips in rows:
        seen[(platform, day)] = (amount, cash, trips)  # a repeated day: the last row wins
    platforms = sorted({p for p, _ in seen} | set(profiles))
    for platform in platforms:
        account = _account(session, application, platform)
        if platform in profiles:
            account.hand_entered = False
        for key, value in profiles.get(platform, {}).items():
            setattr(account, key, value)
    if seen:
        values = [
            {
                "application_id": application.id,
                "platform": platform.value,
                "day": day,
                "amount_cents": amount,
                "cash_amount_cents": cash,
                "trips": trips,
            }
            for (platform, day), (amount, cash, trips) in sorted(seen.items())
        ]
        statement = pg_insert(EarningsDay).values(values)
        session.execute(
            statement.on_conflict_do_update(
                constraint="uq_earnings_days_day",
                set_={
                    "amount_cents": statement.excluded.amount_cents,
                    "cash_amount_cents": statement.excluded.cash_amount_cents,
                    "trips": statement.excluded.trips,
                },
            )
        )
    session.flush()
    days = [d for _, d in seen]
    result = ImportResult(
        len(seen), [p.value for p in platforms], min(days, default=None), max(days, default=None)
    )
    audit.record(
        session,
        actor_id,
        "credit.earnings_imported",
        application,
        ip=ip,
        rows=result.rows,
        platforms=result.platforms,
    )
    return result, _data_changed(application)


@dataclass
class ProfileData:
    """A platform profile typed by hand: rates in percent, debt in pesos (as text)."""

    platform: str
    rating: Decimal | None = None
    acceptance_pct: Decimal | None = None
    cancellation_pct: Decimal | None = None
    lifetime_trips: int | None = None
    first_trip_on: date | None = None
    debt_pending: Decimal | None = None


def clean_profile(data: ProfileData, today: date) -> tuple[Platform, dict[str, Any]]:
    try:
        platform = Platform(data.platform)
    except ValueError:
        raise FieldError("platform", N_("Choose one of the platforms.")) from None

    def within(name: str, value: Decimal | None, low: int, high: int) -> None:
        if value is not None and not (value.is_finite() and low <= value <= high):
            raise FieldError(
                name, N_("Write a number from %(low)s to %(high)s."), low=low, high=high
            )

    within("rating", data.rating, 1, 5)
    within("acceptance_pct", data.acceptance_pct, 0, 100)
    within("cancellation_pct", data.cancellation_pct, 0, 100)
    if data.lifetime_trips is not None and not 0 <= data.lifetime_trips <= 1_000_000:
        raise FieldError(
            "lifetime_trips", N_("Write a number from %(low)s to %(high)s."), low=0, high=1_000_000
        )
    if data.first_trip_on is not None and data.first_trip_on > today:
        raise FieldError("first_trip_on", N_("The first trip cannot be in the future."))
    if data.first_trip_on is not None and data.first_trip_on.year < PLATFORMS_SINCE:
        raise FieldError(
            "first_trip_on",
            N_("The platforms operate in Mexico since %(year)d."),
            year=PLATFORMS_SINCE,
        )
    debt = data.debt_pending if data.debt_pending is not None else Decimal(0)
    if not (debt.is_finite() and 0 <= debt <= MAX_PLATFORM_DEBT_MXN):
        raise FieldError(
            "debt_pending",
            N_("Write an amount from 0 to %(high)s pesos."),
            high=f"{MAX_PLATFORM_DEBT_MXN:,}",
        )
    hundred = Decimal(100)
    return platform, {
        "rating": data.rating,
        "acceptance_rate": None if data.acceptance_pct is None else data.acceptance_pct / hundred,
        "cancellation_rate": (
            None if data.cancellation_pct is None else data.cancellation_pct / hundred
        ),
        "lifetime_trips": data.lifetime_trips,
        "first_trip_on": data.first_trip_on,
        "debt_pending_cents": int((debt * 100).to_integral_value()),
    }


def record_platform_profile(
    session: Session,
    application: CreditApplication,
    data: ProfileData,
    *,
    actor_id: int | None,
    today: date,
    ip: str | None = None,
) -> bool:
    """Store a platform profile typed by hand (replacing that platform's profile; its
    earnings days stay). It feeds the same features as an imported profile. Returns
    whether the application must be scored again."""
    _check_editable(application)
    platform, values = clean_profile(data, today)
    account = _account(session, application, platform)
    for key, value in values.items():
        setattr(account, key, value)
    account.hand_entered = True
    session.flush()
    audit.record(
        session,
        actor_id,
        "credit.profile_entered",
        application,
        ip=ip,
        platform=platform.value,
    )
    return _data_changed(application)


def _account(
    session: Session, application: CreditApplication, platform: Platform
) -> PlatformAccount:
    account = session.scalar(
        select(PlatformAccount).where(
            PlatformAccount.application_id == application.id,
            PlatformAccount.platform == platform,
        )
    )
    if account is None:
        account = PlatformAccount(application_id=application.id, platform=platform)
        session.add(account)
        session.flush()
    return account


def list_earnings(session: Session, application_id: int) -> list[EarningsDay]:
    return list(
        session.scalars(
            select(EarningsDay)
            .where(EarningsDay.application_id == application_id)
            .order_by(EarningsDay.day, EarningsDay.platform)
        )
    )


# --------------------------------------------------------------------------- features


def weekly_sums(
    days: list[tuple[date, int, int]],
) -> list[tuple[date, int, int]]:
    """(Monday, amount cents, trips) of each complete Monday-Sunday week inside the span
    of the data; a day without a row inside the span earned nothing."""
    if not days:
        return []
    first = min(d for d, _, _ in days)
    last = max(d for d, _, _ in days)
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    amounts: dict[date, int] = defaultdict(int)
    trips: dict[date, int] = defaultdict(int)
    for day, amount, n in days:
        monday = day - timedelta(days=day.weekday())
        amounts[monday] += amount
        trips[monday] += n
    weeks = []
    monday = start
    while monday + timedelta(days=6) <= last:
        weeks.append((monday, amounts.get(monday, 0), trips.get(monday, 0)))
        monday += timedelta(weeks=1)
    return weeks


def _weighted(values: list[tuple[float, float]]) -> float:
    """Mean of (value, weight) pairs, weights falling back to 1."""
    if not values:
        return math.nan
    total = sum(w for _, w in values)
    if total <= 0:
        return sum(v for v, _ in values) / len(values)
    return sum(v * w for v, w in values) / total


def application_features(
    session: Session, application: CreditApplication, today: date
) -> dict[str, float]:
    """The model's characteristics for one application (NaN = missing).

    Weekly earnings: the mean of the complete weeks' sums over all platforms (if no
    week is complete, the daily mean times 7); stability: their coefficient of
    variation (population standard deviation / mean; missing with fewer than 2 weeks);
    trips per week likewise; tenure: months since the earliest first trip on any
    platform; rating, acceptance and cancellation: averages weighted by lifetime trips;
    platform debt: pending debt on all platforms. Renewals add the worst days past due
    on our ledger (closed statements and today). km/day from telematics is left missing
    until that data exists (the engine bins missing values).
    """
    rows = session.execute(
        select(EarningsDay.day, EarningsDay.amount_cents, EarningsDay.trips).where(
            EarningsDay.application_id == application.id
        )
    ).all()
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for day, amount, trips in rows:
        by_day[day][0] += amount
        by_day[day][1] += trips
    days = [(d, a, t) for d, (a, t) in by_day.items()]
    weeks = weekly_sums(days)
    features: dict[str, float] = dict.fromkeys(FEATURES, math.nan)
    if weeks:
        sums = [a / 100 for _, a, _ in weeks]
        mean = sum(sums) / len(sums)
        features["weekly_earnings_mxn"] = round(mean, 0)
        features["weekly_trips"] = float(round(sum(t for _, _, t in weeks) / len(weeks)))
        if len(sums) >= 2 and mean > 0:
            sd = math.sqrt(sum((s - mean) ** 2 for s in sums) / len(sums))
            features["earnings_cv"] = round(sd / mean, 3)
    elif days:
        span = (max(d for d, _, _ in days) - min(d for d, _, _ in days)).days + 1
        features["weekly_earnings_mxn"] = round(sum(a for _, a, _ in days) / 100 / span * 7, 0)
        features["weekly_trips"] = float(round(sum(t for _, _, t in days) / span * 7))
    accounts = list(
        session.scalars(
            select(PlatformAccount).where(PlatformAccount.application_id == application.id)
        )
    )
    firsts = [a.first_trip_on for a in accounts if a.first_trip_on is not None]
    if firsts:
        features["tenure_months"] = float(round(max(0, (today - min(firsts)).days) / 30.44))
    for name in ("rating", "acceptance_rate", "cancellation_rate"):
        pairs = [
            (float(getattr(a, name)), float(a.lifetime_trips or 0))
            for a in accounts
            if getattr(a, name) is not None
        ]
        if pairs:
            features[name] = round(_weighted(pairs), 3)
    if accounts:
        features["platform_debt_mxn"] = round(sum(a.debt_pending_cents for a in accounts) / 100)
    if application.driver_id is not None:
        features["max_days_past_due"] = float(
            worst_days_past_due(session, application.driver_id, today)
        )
    return features


def worst_days_past_due(session: Session, driver_id: int, today: date) -> int:
    """The worst days past due a driver reached with us: the closed weeks' statements
    and today (`ledger.days_past_due`, the active contract's grace days)."""
    worst = session.scalar(
        select(func.max(Statement.days_late)).where(Statement.driver_id == driver_id)
    )
    grace = session.scalar(
        select(Contract.grace_days)
        .where(Contract.driver_id == driver_id)
        .order_by(Contract.starts_on.desc())
        .limit(1)
    )
    now = days_past_due(session, driver_id, today, grace_days=grace or 0)
    return max(int(worst or 0), now)


# --------------------------------------------------------------------------- models


_cache_lock = threading.Lock()
_cache: dict[tuple[str, str], SavedModel] = {}


def load_version(version: ModelVersion) -> SavedModel:
    """The saved model of a version (loaded once per process), refused before it is
    unpickled if its file is not the one registered (`model_sha256`)."""
    from scoring import load_model
    from scoring.errors import ArtifactError, UnregisteredModel

    key = (version.path, version.model_sha256)
    with _cache_lock:
        saved = _cache.get(key)
        if saved is None:
            try:
                saved = load_model(version.path, expected_sha256=version.model_sha256)
            except UnregisteredModel:
                raise DomainError(N_("The model file changed since it was registered.")) from None
            except ArtifactError as error:  # e.g. saved by an older engine: retrain
                message = N_(
                    "The model %(name)s cannot be loaded (%(error)s); retrain or activate another."
                )
                raise DomainError(message, name=version.name, error=str(error)) from None
            _cache[key] = saved
        return saved


def get_active_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.active))


def list_models(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))


def register_model(
    session: Session,
    directory: str | Path,
    *,
    name: str | None = None,
    activate_if_none: bool = True,
    actor_id: int | None = None,
) -> ModelVersion:
    """Register a model directory written by ``scoring`` (its manifest is checked by
    loading it). Activates it when no model is active and `activate_if_none`."""
    from scoring import ArtifactError, load_model

    path = Path(directory).resolve()
    try:
        saved = load_model(path)
    except ArtifactError as exc:
        raise DomainError(N_("Not a model directory: %(error)s"), error=str(exc)) from None
    manifest = saved.manifest
    name = name or path.name
    existing = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
    if existing is not None:
        return existing
    version = ModelVersion(
        name=name,
        kind=saved.primary,
        path=str(path),
        metrics=manifest.get("metrics", {}),
        data_fingerprint=manifest["training_data"]["sha256"],
        training_rows=int(manifest["training_data"]["rows"]),
        features=list(saved.model.features),
        code_version=str(manifest.get("code_version", ""))[:60],
        model_sha256=manifest["model_sha256"],
        synthetic=bool(manifest.get("synthetic")),
    )
    session.add(version)
    session.flush()
    audit.record(session, actor_id, "credit.model_registered", version, path=str(path))
    if activate_if_none and get_active_model(session) is None:
        activate_model(session, version.id, actor_id=actor_id, ip=None)
    return version


def activate_model(
    session: Session, version_id: int, *, actor_id: int | None, ip: str | None
) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise DomainError(N_("That model version does not exist."))
    load_version(version)  # refuse a model that does not load
    previous = get_active_model(session)
    if previous is not None and previous.id == version.id:
        return version
    if previous is not None:
        previous.active = False
        session.flush()  # the partial unique index allows one active row
    version.active = True
    version.activated_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor_id,
        "credit.model_activated",
        version,
        ip=ip,
        previous=previous.name if previous else None,
    )
    return version


def train_synthetic_model(
    directory: str | Path,
    *,
    rows: int = 5000,
    seed: int = 7,
    kinds: tuple[str, ...] = ("scorecard", "boosting"),
    folds: int = 5,
) -> dict[str, Any]:
    """Train on ``scoring.synthetic.generate_drivers`` (SYNTHETIC data) and save."""
    from scoring import ModelConfig, train_and_save
    from scoring.synthetic import (
        DRIVER_LABELS,
        DRIVER_REASON_TEMPLATES,
        DRIVER_RISK_DIRECTION,
        generate_drivers,
    )

    df = generate_drivers(rows, seed=seed)
    config = ModelConfig(
        risk_direction=DRIVER_RISK_DIRECTION,
        labels=DRIVER_LABELS,
        reason_templates=DRIVER_REASON_TEMPLATES,
    )
    return train_and_save(
        df,
        TARGET,
        directory,
        synthetic=True,
        models=kinds,  # type: ignore[arg-type]
        seed=seed,
        folds=folds,
        ignore=["synthetic", "driver_id"],
        config=config,
    )


# --------------------------------------------------------------------------- scoring


def current_cutoffs(session: Session) -> PolicyCutoffs | None:
    return session.scalar(select(PolicyCutoffs).order_by(PolicyCutoffs.id.desc()).limit(1))


def cutoff_values(session: Session) -> tuple[int, int]:
    """(approve at or above, decline below) in force."""
    current = current_cutoffs(session)
    if current is None:
        return DEFAULT_APPROVE_AT, DEFAULT_DECLINE_BELOW
    return current.approve_at_or_above, current.decline_below


def policy_result(score: int, approve_at: int, decline_below: int) -> Outcome:
    if score >= approve_at:
        return Outcome.APPROVE
    if score < decline_below:
        return Outcome.DECLINE
    return Outcome.REFER


def set_cutoffs(
    session: Session,
    *,
    approve_at: int,
    decline_below: int,
    actor_id: int,
    reason: str,
    ip: str | None = None,
) -> PolicyCutoffs:
    for field, value in (("approve_at", approve_at), ("decline_below", decline_below)):
        if not MIN_SCORE <= value <= MAX_SCORE:
            raise FieldError(
                field,
                N_("A cut-off must be between %(low)d and %(high)d points."),
                low=MIN_SCORE,
                high=MAX_SCORE,
            )
    if decline_below > approve_at:
        raise FieldError(
            "decline_below", N_("The decline cut-off cannot be above the approval cut-off.")
        )
    if len(reason.strip()) < 5:
        raise FieldError("reason", N_("Say why the cut-offs change."))
    previous = cutoff_values(session)
    cutoffs = PolicyCutoffs(
        approve_at_or_above=approve_at,
        decline_below=decline_below,
        set_by_id=actor_id,
        reason=reason.strip()[:300],
    )
    session.add(cutoffs)
    session.flush()
    audit.record(
        session,
        actor_id,
        "credit.cutoffs_set",
        cutoffs,
        ip=ip,
        previous={"approve_at": previous[0], "decline_below": previous[1]},
        approve_at=approve_at,
        decline_below=decline_below,
        reason=reason.strip(),
    )
    return cutoffs


def _reason_texts(frame_row: Any, features: dict[str, float], top: int) -> list[dict[str, Any]]:
    """The model's reason codes; a model trained without Spanish texts (e.g. by the
    CLI on exported outcomes) gets the driver templates with the applicant's value."""
    from scoring.synthetic import DRIVER_LABELS, DRIVER_REASON_TEMPLATES

    reasons = []
    for r in range(1, top + 1):
        feature = frame_row[f"reason_{r}"]
        if feature is None or feature != feature:
            continue
        text = str(frame_row[f"reason_{r}_text"])
        if feature in DRIVER_REASON_TEMPLATES and text.startswith(feature):
            value = features.get(feature)
            shown = "—" if value is None or value != value else f"{value:,.6g}"
            text = DRIVER_REASON_TEMPLATES[feature] % {
                "bin": shown,
                "label": DRIVER_LABELS[feature],
            }
        reasons.append(
            {"feature": feature, "text": text, "points": int(frame_row[f"reason_{r}_points"])}
        )
    return reasons


def score_application(
    session: Session,
    application_id: int,
    model: ModelVersion | None = None,
    *,
    today: date,
) -> CreditScore:
    """Score an application with `model` (the active one by default): features, PD,
    score, band, reason codes and the policy result. An application whose policy
    result is refer goes to manual review; the others wait for a person's decision."""
    import pandas as pd

    from scoring import score_applications

    application = session.get(CreditApplication, application_id)
    if application is None:
        raise DomainError(N_("That application does not exist."))
    check_scorable(application)
    version = model or get_active_model(session)
    if version is None:
        raise DomainError(N_("No credit model is active; an administrator must activate one."))
    saved = load_version(version)
    features = application_features(session, application, today)
    frame = pd.DataFrame([features])
    result = score_applications(saved, frame, top_reasons=3).iloc[0]
    score = int(result["score"])
    approve_at, decline_below = cutoff_values(session)
    cutoffs = current_cutoffs(session)
    outcome = policy_result(score, approve_at, decline_below)
    credit_score = CreditScore(
        application_id=application.id,
        model_version_id=version.id,
        pd=Decimal(str(round(float(result["pd"]), 5))),
        score=score,
        band=str(result["band"]),
        reason_codes=_reason_texts(result, features, 3),
        features={k: (None if v != v else v) for k, v in features.items()},
        policy_result=outcome,
        cutoffs_id=cutoffs.id if cutoffs else None,
        application_revision=application.revision,
        synthetic=version.synthetic,
    )
    session.add(credit_score)
    session.flush()
    application.scoring_error = None
    if outcome == Outcome.REFER:
        application.status = ApplicationStatus.REFERRED
        session.add(
            CreditDecision(
                application_id=application.id,
                score_id=credit_score.id,
                outcome=Outcome.REFER,
                policy_result=outcome.value,
                automatic=True,
            )
        )
    else:
        application.status = ApplicationStatus.SCORED
    session.flush()
    return credit_score


def mark_scoring_failed(session: Session, application_id: int, message: str) -> None:
    application = session.get(CreditApplication, application_id)
    if application is None:
        return
    application.status = (
        ApplicationStatus.SUBMITTED
        if application.status == ApplicationStatus.SCORING
        else application.status
    )
    application.scoring_error = message[:300]
    session.flush()


def latest_score(session: Session, application_id: int) -> CreditScore | None:
    return session.scalar(
        select(CreditScore)
        .where(CreditScore.application_id == application_id)
        .order_by(CreditScore.id.desc())
        .limit(1)
    )


def latest_decision(session: Session, application_id: int) -> CreditDecision | None:
    return session.scalar(
        select(CreditDecision)
        .where(CreditDecision.application_id == application_id)
        .order_by(CreditDecision.id.desc())
        .limit(1)
    )


def list_decisions(session: Session, application_id: int) -> list[CreditDecision]:
    return list(
        session.scalars(
            select(CreditDecision)
            .where(CreditDecision.application_id == application_id)
            .order_by(CreditDecision.id.desc())
        )
    )


# --------------------------------------------------------------------------- proposals

#: Weekly rent before the band's adjustment, by vehicle (MXN).
BASE_WEEKLY_RENT = {"BYD Dolphin Mini": 3_600, "JAC E10X": 3_300}
#: By band: rent adjustment (MXN a week), deposit (weeks of rent), term (weeks).
BAND_TERMS = {
    "A": (-500, 1, 156),
    "B": (-300, 1, 156),
    "C": (0, 2, 156),
    "D": (300, 3, 182),
    "E": (600, 4, 182),
}
RENT_FLOOR_MXN, RENT_CEILING_MXN = 2_800, 4_200


@dataclass(frozen=True)
class Proposal:
    weekly_rent_cents: int
    deposit_cents: int
    term_weeks: int


def propose_contract(band: str, vehicle: str) -> Proposal:
    """The contract offered for a band and vehicle (see ``docs/credit.md``): the
    vehicle's base rent plus the band's adjustment, kept within 2,800-4,200 MXN a week
    (the money note's assumption); a deposit of 1-4 weeks of rent; 156 or 182 weeks."""
    if band not in BAND_TERMS:
        raise DomainError(N_("Unknown risk band %(band)s."), band=band)
    base = BASE_WEEKLY_RENT.get(vehicle, max(BASE_WEEKLY_RENT.values()))
    adjustment, deposit_weeks, term = BAND_TERMS[band]
    rent = min(max(base + adjustment, RENT_FLOOR_MXN), RENT_CEILING_MXN)
    return Proposal(rent * 100, rent * deposit_weeks * 100, term)


# --------------------------------------------------------------------------- decisions


def decide(
    session: Session,
    application: CreditApplication,
    outcome: Outcome,
    *,
    actor: User,
    reason: str = "",
    ip: str | None = None,
) -> CreditDecision:
    """A person's decision on a scored or referred application.

    Following the policy result is open to staff; anything else is an override, and a
    decision on a referred application is a manual review: both need a manager (or an
    administrator) and a reason, recorded as who approved it. Approvals carry the
    contract proposed for the score's band and the requested vehicle. Audited.
    """
    if application.status not in (ApplicationStatus.SCORED, ApplicationStatus.REFERRED):
        raise DomainError(N_("Only a scored or referred application can be decided."))
    score = latest_score(session, application.id)
    if score is None or score.application_revision != application.revision:
        raise DomainError(N_("The application has no current score yet."))
    reason = reason.strip()
    override = outcome != score.policy_result and score.policy_result != Outcome.REFER
    review = score.policy_result == Outcome.REFER
    if outcome == Outcome.REFER and application.status == ApplicationStatus.REFERRED:
        raise DomainError(N_("The application is already referred for review."))
    if (override or review) and actor.role not in MANAGERS:
        raise NotAllowed(N_("Only a manager can decide against the policy or on a referral."))
    if (override or review) and len(reason) < 5:
        raise FieldError("reason", N_("Say why; a decision against the policy needs a reason."))
    proposal = propose_contract(score.band, application.requested_vehicle)
    approve = outcome == Outcome.APPROVE
    decision = CreditDecision(
        application_id=application.id,
        score_id=score.id,
        outcome=outcome,
        policy_result=score.policy_result.value,
        automatic=False,
        override=override,
        decided_by_id=actor.id,
        approved_by_id=actor.id if (override or review) else None,
        reason=reason or None,
        proposed_weekly_rent_cents=proposal.weekly_rent_cents if approve else None,
        proposed_deposit_cents=proposal.deposit_cents if approve else None,
        proposed_term_weeks=proposal.term_weeks if approve else None,
    )
    session.add(decision)
    application.status = {
        Outcome.APPROVE: ApplicationStatus.APPROVED,
        Outcome.DECLINE: ApplicationStatus.DECLINED,
        Outcome.REFER: ApplicationStatus.REFERRED,
    }[outcome]
    session.flush()
    audit.record(
        session,
        actor.id,
        "credit.override" if override else "credit.decided",
        application,
        ip=ip,
        outcome=outcome.value,
        policy_result=score.policy_result.value,
        score=score.score,
        reason=reason or None,
        decision_id=decision.id,
    )
    return decision


# --------------------------------------------------------------------------- lists


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


def latest_scores(session: Session, application_ids: list[int]) -> dict[int, CreditScore]:
    if not application_ids:
        return {}
    newest = (
        select(func.max(CreditScore.id))
        .where(CreditScore.application_id.in_(application_ids))
        .group_by(CreditScore.application_id)
    )
    return {
        s.application_id: s
        for s in session.scalars(select(CreditScore).where(CreditScore.id.in_(newest)))
    }


# --------------------------------------------------------------------------- monitoring


def stability_report(session: Session, version: ModelVersion, limit: int = 1000) -> dict[str, Any]:
    """PSI of the score and of each characteristic: the model's training data against
    the features of the most recent applications scored (by any model)."""
    import pandas as pd

    rows = list(
        session.scalars(select(CreditScore.features).order_by(CreditScore.id.desc()).limit(limit))
    )
    if not rows:
        return {"rows": 0}
    saved = load_version(version)
    model = saved.model
    frame = pd.DataFrame(rows)
    for column in model.plan.features:
        if column not in frame.columns:
            frame[column] = math.nan
    from scoring import feature_frame

    return model.stability(feature_frame(frame.astype("float64"), model.plan))


# --------------------------------------------------------------------------- outcomes


def _covered_at(
    charges: list[tuple[datetime, int]], credits: list[tuple[datetime, int]]
) -> list[datetime | None]:
    """When each charge (oldest first) was fully covered by credits (FIFO), or None."""
    covered: list[datetime | None] = []
    paid, c = 0, 0
    owed = 0
    for _, amount in charges:
        owed += amount
        while paid < owed and c < len(credits):
            paid += credits[c][1]
            c += 1
        covered.append(credits[c - 1][0] if paid >= owed and c > 0 else None)
    return covered


def contract_went_bad(session: Session, contract: Contract, today: date) -> bool | None:
    """True if, within the contract's first 26 weeks, a charge stayed unpaid 30 or more
    days after it fell due (`ledger.charge_due_on` with the contract's grace days,
    credits paying the oldest charges first); False if the 26 weeks passed without it;
    None while the contract is still under observation."""
    entries = session.execute(
        select(LedgerEntry.posted_at, LedgerEntry.amount_cents)
        .where(LedgerEntry.driver_id == contract.driver_id)
        .order_by(LedgerEntry.posted_at, LedgerEntry.id)
    )
    return _went_bad(contract.starts_on, contract.grace_days, [(p, a) for p, a in entries], today)


def _went_bad(
    starts_on: date, grace_days: int, entries: Sequence[tuple[datetime, int]], today: date
) -> bool | None:
    """`contract_went_bad` on the driver's ledger entries (oldest first)."""
    window_end = starts_on + timedelta(weeks=OBSERVATION_WEEKS)
    charges = [(p, a) for p, a in entries if a > 0]
    credits = [(p, -a) for p, a in entries if a < 0]
    covered = _covered_at(charges, credits)
    horizon = min(window_end, today)
    for (posted, _), paid_at in zip(charges, covered, strict=True):
        due = charge_due_on(posted, grace_days)
        bad_on = due + timedelta(days=BAD_DAYS_PAST_DUE)
        if due < starts_on or bad_on > horizon:
            continue
        if paid_at is None or local_date(paid_at) > bad_on:
            return True
    return False if today >= window_end else None


def contract_outcomes(session: Session, today: date) -> dict[int, bool | None]:
    """`contract_went_bad` of every contract, by contract id, reading the ledger once
    (for the dashboard's early delinquency by cohort)."""
    contracts: dict[int, list[tuple[int, date, int]]] = {}
    for contract_id, driver_id, starts_on, grace_days in session.execute(
        select(Contract.id, Contract.driver_id, Contract.starts_on, Contract.grace_days)
    ):
        contracts.setdefault(driver_id, []).append((contract_id, starts_on, grace_days))
    outcomes: dict[int, bool | None] = {}
    rows = session.execute(
        select(LedgerEntry.driver_id, LedgerEntry.posted_at, LedgerEntry.amount_cents)
        .where(LedgerEntry.driver_id.in_(select(Contract.driver_id)))
        .order_by(LedgerEntry.driver_id, LedgerEntry.posted_at, LedgerEntry.id)
        .execution_options(yield_per=10_000)
    )
    by_driver = {d: [(p, a) for _, p, a in group] for d, group in groupby(rows, key=itemgetter(0))}
    for driver_id, driver_contracts in contracts.items():
        entries = by_driver.get(driver_id, [])
        for contract_id, starts_on, grace_days in driver_contracts:
            outcomes[contract_id] = _went_bad(starts_on, grace_days, entries, today)
    return outcomes


def export_outcomes(session: Session, today: date) -> list[dict[str, Any]]:
    """One row per contract whose outcome is known and whose driver has a scored
    application: the features at application time and ``incumplimiento`` (1 = a contract
    30+ days past due within its first 26 weeks). Contracts still under observation and
    contracts without a scored application are left out."""
    out = []
    contracts = session.scalars(select(Contract).order_by(Contract.id))
    for contract in contracts:
        application_id = session.scalar(
            select(CreditApplication.id)
            .where(
                (CreditApplication.driver_id == contract.driver_id)
                | (CreditApplication.curp == contract.driver.curp),
                CreditApplication.status == ApplicationStatus.APPROVED,
            )
            .order_by(CreditApplication.id.desc())
            .limit(1)
        )
        if application_id is None:
            continue
        score = latest_score(session, application_id)
        if score is None:
            continue
        label = contract_went_bad(session, contract, today)
        if label is None:
            continue
        row: dict[str, Any] = {"contrato_id": contract.number}
        row.update({k: score.features.get(k) for k in FEATURES})
        row[TARGET] = int(label)
        out.append(row)
    return out


def cutoff_history(session: Session, limit: int = 20) -> list[PolicyCutoffs]:
    return list(
        session.scalars(select(PolicyCutoffs).order_by(PolicyCutoffs.id.desc()).limit(limit))
    )
