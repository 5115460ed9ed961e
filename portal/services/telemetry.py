"""Telemetry as the screens read it: the input the ingest refused.

The writes (readings, latest states, partitions, rejects) are the engine's storage,
`telemetry.store`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.models import TelemetryReject


def count_rejects(session: Session, since: datetime) -> dict[str, int]:
    """Refused messages since `since`, by reason code."""
    rows = session.execute(
        select(TelemetryReject.reason_code, func.count())
        .where(TelemetryReject.received_at >= since)
        .group_by(TelemetryReject.reason_code)
    )
    return {code: count for code, count in rows}


def prune_rejects(session: Session, before: datetime) -> int:
    """Forget the refused messages received before `before`; how many there were.

    The quarantine is for staff to see what is being refused lately; anyone can fill it
    (a stream of made-up IMEIs), so it is pruned daily (`prune_telemetry_rejects_job`).
    """
    deleted = session.execute(delete(TelemetryReject).where(TelemetryReject.received_at < before))
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


def list_rejects(session: Session, limit: int = 20) -> list[TelemetryReject]:
    return list(
        session.scalars(
            select(TelemetryReject).order_by(TelemetryReject.received_at.desc()).limit(limit)
        )
    )
