"""Gig-platform earnings of an application: the import (JSON or CSV) and typed profiles.

The import format (after the aggregator Palenca's earnings objects) is documented in
``docs/credit.md``: JSON ``{"platform": ..., "profile": {...},
"earnings": [{"earning_date", "amount", "cash_amount", "count_trips"}, ...]}`` (one
object or a list of them), or CSV with the header
``platform,earning_date,amount,cash_amount,count_trips``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from portal.models import (
    CreditApplication,
    EarningsDay,
    Platform,
    PlatformAccount,
)
from portal.services import N_, DomainError, FieldError, audit
from portal.services.credit.applications import check_editable, data_changed

PLATFORMS_SINCE = 2013  # Uber's first trips in Mexico City


MAX_PLATFORM_DEBT_MXN = 1_000_000


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
    check_editable(application)
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
    return result, data_changed(application)


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
    check_editable(application)
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
    return data_changed(application)


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
