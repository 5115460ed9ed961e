"""An application's features, as the ``scoring`` engine reads them."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    Contract,
    CreditApplication,
    EarningsDay,
    PlatformAccount,
    Statement,
)
from portal.services.ledger import days_past_due

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
