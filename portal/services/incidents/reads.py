"""The incidents as the screens read them: one, a driver's, the staff list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.db import utcnow
from portal.models import (
    Incident,
    IncidentAttachment,
    IncidentEvent,
    IncidentStatus,
    IncidentType,
    Vehicle,
)
from portal.models.incidents import OPEN_STATUSES
from portal.services.fleet import Page

AGES = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def get_incident(session: Session, incident_id: int) -> Incident | None:
    return session.scalar(
        select(Incident)
        .options(
            joinedload(Incident.vehicle).joinedload(Vehicle.depot),
            joinedload(Incident.driver),
            selectinload(Incident.events).joinedload(IncidentEvent.author),
            selectinload(Incident.attachments),
        )
        .where(Incident.id == incident_id)
    )


def get_driver_incident(session: Session, incident_id: int, driver_id: int) -> Incident | None:
    """The incident only if it is this driver's (else None: the view answers 404)."""
    incident = get_incident(session, incident_id)
    return incident if incident is not None and incident.driver_id == driver_id else None


def get_attachment(
    session: Session, incident_id: int, attachment_id: int
) -> IncidentAttachment | None:
    return session.scalar(
        select(IncidentAttachment).where(
            IncidentAttachment.id == attachment_id, IncidentAttachment.incident_id == incident_id
        )
    )


def list_driver_incidents(session: Session, driver_id: int) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .options(joinedload(Incident.vehicle))
            .where(Incident.driver_id == driver_id)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
        )
    )


def list_incidents(
    session: Session,
    *,
    status: str = "open",
    type: IncidentType | None = None,
    depot_id: int | None = None,
    age: str = "",
    now: datetime | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[Incident]:
    """The staff queue. `status`: "open", "all" or one status; `age`: "", "1d", "7d"
    (reported within a day or a week) or "30d" (reported more than 30 days ago)."""
    now = now or utcnow()
    conditions: list[Any] = []
    if status == "open":
        conditions.append(Incident.status.in_(OPEN_STATUSES))
    elif status != "all":
        conditions.append(Incident.status == IncidentStatus(status))
    if type is not None:
        conditions.append(Incident.type == type)
    if depot_id:
        conditions.append(Incident.vehicle.has(Vehicle.depot_id == depot_id))
    if age in ("1d", "7d"):
        conditions.append(Incident.created_at >= now - AGES[age])
    elif age == "30d":
        conditions.append(Incident.created_at < now - AGES[age])
    total = session.scalar(select(func.count(Incident.id)).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = list(
        session.scalars(
            select(Incident)
            .options(joinedload(Incident.vehicle).joinedload(Vehicle.depot))
            .options(joinedload(Incident.driver))
            .where(*conditions)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items=items, page=page, per_page=per_page, total=total)
