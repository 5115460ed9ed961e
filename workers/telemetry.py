"""Telemetry jobs (queue `telemetry`): derived state from the readings.

The listener writes readings and latest states itself; these jobs derive the rest
and are idempotent (each recomputes a window and replaces what it derived there).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from portal import clock
from portal.db import Session
from portal.services import telemetry as telemetry_reads
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today
from telemetry import store as ingest

from .jobs import job

log = logging.getLogger(__name__)


@job("telemetry")
def rollup_vehicle_job(vehicle_id: int) -> tuple[int, int]:
    """Trips, charging episodes and today's km of one vehicle."""
    session = Session()
    now = clock.now()
    trips, episodes = rollups.derive_activity(session, vehicle_id, now)
    today = local_today()
    rollups.rollup_daily_km(session, vehicle_id, today)
    if now.astimezone(rollups.LOCAL).hour < 1:  # finish yesterday just after midnight
        rollups.rollup_daily_km(session, vehicle_id, today - timedelta(days=1))
    return trips, episodes


@job("telemetry")
def rollup_fleet_job() -> int:
    """Queue `rollup_vehicle_job` for every vehicle that reported in the last 15 min."""
    since = clock.now() - timedelta(minutes=15)
    vehicle_ids = rollups.vehicles_reporting_since(Session(), since)
    for vehicle_id in vehicle_ids:
        rollup_vehicle_job.delay(vehicle_id)
    return len(vehicle_ids)


@job("telemetry")
def check_vehicle_alerts_job() -> tuple[int, int]:
    """Open and close silent-vehicle and low-charge alerts."""
    changes = rollups.check_alerts(
        Session(),
        clock.now(),
        silent_after=timedelta(minutes=current_app.config["TELEMETRY_SILENT_MINUTES"]),
        low_soc_pct=current_app.config["TELEMETRY_LOW_SOC_PCT"],
    )
    if changes.opened or changes.closed:
        log.info("vehicle alerts: %d opened, %d closed", changes.opened, changes.closed)
    return changes.opened, changes.closed


@job("telemetry")
def ensure_telemetry_partitions_job() -> list[str]:
    """Create this month's and the next two months' reading partitions ahead of time."""
    return ingest.ensure_partitions_ahead(Session(), clock.now())


@job("telemetry")
def prune_telemetry_rejects_job() -> int:
    """Forget refused messages older than TELEMETRY_REJECTS_KEEP_DAYS (30)."""
    before = clock.now() - timedelta(days=current_app.config["TELEMETRY_REJECTS_KEEP_DAYS"])
    pruned = telemetry_reads.prune_rejects(Session(), before)
    log.info("telemetry rejects: %d older than %s pruned", pruned, before.date())
    return pruned
