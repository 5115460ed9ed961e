"""An incident's photos and documents, each stored once by its checksum."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from portal.models import (
    EventKind,
    Incident,
    IncidentAttachment,
)
from portal.services import N_, DomainError, audit, storage
from portal.services.uploads import CleanFile

from .timeline import add_event, require_incident


def add_attachments(
    session: Session,
    incident_id: int,
    files: Sequence[CleanFile],
    *,
    uploader_id: int,
    storage_root: str | Path,
    max_files: int = 8,
    staff: bool = False,
    ip: str | None = None,
) -> list[IncidentAttachment]:
    incident = require_incident(session, incident_id)
    if not files:
        raise DomainError(N_("Choose at least one photo or document."))
    if len(incident.attachments) + len(files) > max_files:
        raise DomainError(N_("An incident can have at most %(max)d files."), max=max_files)
    added = store_files(session, incident, files, uploader_id, storage_root)
    if staff and added:
        audit.record(
            session,
            uploader_id,
            "incident.attachments_added",
            incident,
            ip=ip,
            attachments=[a.id for a in added],
        )
    return added


def store_files(
    session: Session,
    incident: Incident,
    files: Iterable[CleanFile],
    uploader_id: int,
    storage_root: str | Path,
    at: datetime | None = None,
) -> list[IncidentAttachment]:
    known = {a.sha256 for a in incident.attachments}
    added = []
    for f in files:
        sha256 = storage.put_blob(storage_root, f.data)
        if sha256 in known:
            continue  # the same photo twice is one attachment
        known.add(sha256)
        attachment = IncidentAttachment(
            incident=incident,
            sha256=sha256,
            content_type=f.content_type,
            size_bytes=len(f.data),
            original_name=f.original_name,
            width=f.width,
            height=f.height,
            uploaded_by_id=uploader_id,
        )
        if at is not None:
            attachment.created_at = at
        session.add(attachment)
        added.append(attachment)
    session.flush()
    if added:
        add_event(
            session,
            incident,
            EventKind.ATTACHMENT_ADDED,
            uploader_id,
            details={"files": [a.original_name for a in added]},
            at=at,
        )
    return added


# -- staff move it along -----------------------------------------------------------
