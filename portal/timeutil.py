"""Business dates: what day it is in Mexico City (or the configured zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal import clock

MEXICO_CITY = ZoneInfo("America/Mexico_City")


def local_today(zone: ZoneInfo = MEXICO_CITY, now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(zone).date()


def monday_of(day: date) -> date:
    """The Monday that starts the week `day` falls in."""
    return day - timedelta(days=day.weekday())


def local_midnight(day: date, zone: ZoneInfo = MEXICO_CITY) -> datetime:
    """00:00 of `day` in `zone`, as a UTC timestamp (what the database stores)."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def local_date(moment: datetime, zone: ZoneInfo = MEXICO_CITY) -> date:
    return moment.astimezone(zone).date()
