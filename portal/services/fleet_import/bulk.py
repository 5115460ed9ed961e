"""Writing in bulk: keys read and rows inserted a chunk at a time, and the audit event
of every imported record (with the file and the line).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import AuditEvent

CHUNK = 1000


def in_chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def audit_rows(
    actor_id: int | None, action: str, table: str, ids_lines: Iterable[tuple[int, int]], source: str
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "at": now,
            "actor_id": actor_id,
            "action": action,
            "entity_type": table,
            "entity_id": str(record_id),
            "details": {"file": source, "line": line},
        }
        for record_id, line in ids_lines
    ]


def insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    for chunk in in_chunks(rows):
        session.execute(insert(AuditEvent), chunk)
