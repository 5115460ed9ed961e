"""Recording who did what to which record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from portal.models import AuditEvent, Base


def record(
    session: Session,
    actor_id: int | None,
    action: str,
    entity: Base,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        entity_type=entity.__tablename__,
        entity_id=str(entity.id),  # type: ignore[attr-defined]
        ip=ip,
        details=details,
    )
    session.add(event)
    session.flush()
    return event
