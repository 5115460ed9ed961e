"""An incident's timeline: every change, comment and file becomes an `IncidentEvent`
with its author."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.models import (
    EventKind,
    Incident,
    IncidentEvent,
    IncidentStatus,
)
from portal.services import N_, DomainError


def require_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise DomainError(N_("That incident does not exist."))
    return incident


def add_event(
    session: Session,
    incident: Incident,
    kind: EventKind,
    author_id: int | None,
    *,
    body: str | None = None,
    from_status: IncidentStatus | None = None,
    to_status: IncidentStatus | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> IncidentEvent:
    event = IncidentEvent(
        incident=incident,
        author_id=author_id,
        kind=kind,
        body=body,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
    )
    if at is not None:
        event.at = at
    session.add(event)
    session.flush()
    return event
