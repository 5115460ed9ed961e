"""The incidents panel: open incidents by status, reported and closed in the period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    Incident,
    IncidentStatus,
    Vehicle,
)
from portal.services.kpis.period import no_jit, period_bounds

CLOSED_INCIDENT = (IncidentStatus.CLOSED, IncidentStatus.REJECTED, IncidentStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class IncidentsPanel:
    open_by_status: list[tuple[IncidentStatus, int]]  # now
    reported: int  # in the period
    closed: int  # closed in the period
    average_days_to_close: float | None

    @property
    def open(self) -> int:
        return sum(n for _, n in self.open_by_status)


def incidents_panel(
    session: Session, start: date, end: date, depot_id: int | None
) -> IncidentsPanel:
    no_jit(session)
    since, until = period_bounds(start, end)
    open_q = (
        select(Incident.status, func.count())
        .where(Incident.status.not_in(CLOSED_INCIDENT))
        .group_by(Incident.status)
    )
    days = func.extract("epoch", Incident.status_changed_at - Incident.created_at) / 86400
    closed_q = select(func.count(), func.avg(days)).where(
        Incident.status == IncidentStatus.CLOSED,
        Incident.status_changed_at >= since,
        Incident.status_changed_at < until,
    )
    reported_q = select(func.count()).where(
        Incident.created_at >= since, Incident.created_at < until
    )
    if depot_id:
        in_depot = Incident.vehicle_id.in_(select(Vehicle.id).where(Vehicle.depot_id == depot_id))
        open_q, closed_q, reported_q = (
            open_q.where(in_depot),
            closed_q.where(in_depot),
            reported_q.where(in_depot),
        )
    counts = {IncidentStatus(s): int(n) for s, n in session.execute(open_q)}
    closed, average = session.execute(closed_q).one()
    return IncidentsPanel(
        open_by_status=[(s, counts.get(s, 0)) for s in IncidentStatus if s not in CLOSED_INCIDENT],
        reported=int(session.scalar(reported_q) or 0),
        closed=int(closed),
        average_days_to_close=None if average is None else float(average),
    )
