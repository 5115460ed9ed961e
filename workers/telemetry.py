"""Telemetry jobs (queue `telemetry`): derived state from the readings.

The listener writes readings and latest states itself; these jobs derive the rest
and are idempotent (each recomputes a window and replaces what it derived there).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from portal.db import Session
from portal.services import telemetry as ingest
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today

from .jobs import job

log = logging.getLogger(__name__)

SILENT_MINUTES = int(os.environ.get("TELEMETRY_SILENT_MINUTES", "30"))
LOW_SOC_PCT = int(os.environ.get("TELEMETRY_LOW_SOC_PCT", "20"))
REJECTS_KEEP_DAYS = int(os.environ.get("TELEMETRY_REJECTS_KEEP_DAYS", "30"))


@job("telemetry")
def rollup_vehicle_job(vehicle_id: int) -> tuple[int, int]:
    """Trips, charging episodes and today's km of one vehicle."""
    session = Session()
    now = datetime.now(UTC)
    trips, episodes = rollups.derive_activity(session, vehicle_id, now)
    today = local_today()
    rollups.rollup_daily_km(session, vehicle_id, today)
    if now.astimezone(rollups.LOCAL).hour < 1:  # finish yesterday just after midnight
        rollups.rollup_daily_km(session, vehicle_id, today - timedelta(days=1))
    return trips, episodes


@job("telemetry")
def rollup_fleet_job() -> int:
    """Queue `rollup_vehicle_job` for every vehicle that reported in the last 15 min."""
    since = datetime.now(UTC) - timedelta(minutes=15)
    vehicle_ids = rollups.vehicles_reporting_since(Session(), since)
    for vehicle_id in vehicle_ids:
        rollup_vehicle_job.delay(vehicle_id)
    return len(vehicle_ids)


@job("telemetry")
def check_vehicle_alerts_job() -> tuple[int, int]:
    """Open and close silent-vehicle and low-charge alerts."""
    changes = rollups.check_alerts(
        Session(),
        datetime.now(UTC),
        silent_after=timedelta(minutes=SILENT_MINUTES),
        low_soc_pct=LOW_SOC_PCT,
    )
    if changes.opened or changes.closed:
        log.info("vehicle alerts: %d opened, %d closed", changes.opened, changes.closed)
    return changes.opened, changes.closed


@job("telemetry")
def ensure_telemetry_partitions_job() -> list[str]:
    """Create this month's and the next two months' reading partitions ahead of time."""
    return ingest.ensure_partitions_ahead(Session(), datetime.now(UTC))


@job("telemetry")
def prune_telemetry_rejects_job() -> int:
    """Forget refused messages older than TELEMETRY_REJECTS_KEEP_DAYS (30)."""
    before = datetime.now(UTC) - timedelta(days=REJECTS_KEEP_DAYS)
    pruned = ingest.prune_rejects(Session(), before)
    log.info("telemetry rejects: %d older than %s pruned", pruned, before.date())
    return pruned
