"""Business dates: what day it is in Mexico City (or the configured zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

MEXICO_CITY = ZoneInfo("America/Mexico_City")


def local_today(zone: ZoneInfo = MEXICO_CITY, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()
