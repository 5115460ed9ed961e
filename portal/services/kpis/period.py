"""What every panel shares: the period's bounds in Mexico City time, its days, and
PostgreSQL's JIT turned off for these short aggregates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, text
from sqlalchemy.orm import Session

ZONE_NAME = "America/Mexico_City"


ZONE = ZoneInfo(ZONE_NAME)


HOURS = range(24)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as [since, until) instants: local midnight of start and of end + 1."""
    return (
        datetime.combine(start, time.min, ZONE),
        datetime.combine(end + timedelta(days=1), time.min, ZONE),
    )


def no_jit(session: Session) -> None:
    """Turn PostgreSQL's JIT off for the rest of the transaction: these aggregates take
    tens of milliseconds, and their row estimates (a `generate_series` counts as 1,000
    rows) make JIT compile for hundreds of milliseconds first."""
    session.execute(text("SET LOCAL jit = off"))


def each_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def local_day(column: Any) -> Any:
    return cast(func.timezone(ZONE_NAME, column), Date)
