"""The charging panel: sessions, connector utilization by hour of day, bookings and
no-shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    Charger,
    ChargerConnector,
)
from portal.services.kpis.daily import Days, panel_days
from portal.services.kpis.period import HOURS


@dataclass(frozen=True, slots=True)
class ChargingPanel:
    sessions: int
    connectors: int
    hourly: list[tuple[int, float]]  # hour of day 0..23, share of connector time in use
    bookings: int  # bookings whose window was in the period, not cancelled
    no_shows: int

    @property
    def no_show_rate(self) -> float:
        return self.no_shows / self.bookings if self.bookings else 0.0


def charging_panel(
    session: Session, start: date, end: date, depot_id: int | None, days: Days | None = None
) -> ChargingPanel:
    """Connector utilization by local hour of day: the seconds of each hour that sessions
    held a connector, over (connectors x days in the period x 3600)."""
    days = panel_days(session, start, end, depot_id, "charging", days)
    total = days.total()
    connectors_q = select(func.count(ChargerConnector.id)).join(
        Charger, Charger.id == ChargerConnector.charger_id
    )
    if depot_id:
        connectors_q = connectors_q.where(Charger.depot_id == depot_id)
    else:
        connectors_q = connectors_q.where(Charger.depot_id.is_not(None))
    connectors = int(session.scalar(connectors_q) or 0)
    capacity = connectors * ((end - start).days + 1) * 3600
    return ChargingPanel(
        sessions=total.sessions,
        connectors=connectors,
        hourly=[
            (h, min(1.0, total.connector_seconds[h] / capacity) if capacity else 0.0) for h in HOURS
        ],
        bookings=total.bookings,
        no_shows=total.no_shows,
    )
