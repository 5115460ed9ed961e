"""Battery health job: the night's charging sessions joined to their cars, then every
car's estimate (`telemetry.battery.store`)."""

from __future__ import annotations

import logging

from portal.db import Session
from telemetry.battery.store import refresh_battery_health

from .jobs import job

log = logging.getLogger(__name__)


@job("telemetry")
def refresh_battery_health_job() -> int:
    """Join the last week's completed charging sessions (every one, the first time) to
    their cars and tracker readings, then re-estimate every car's battery. Idempotent:
    a session's row and a car's estimate are replaced."""
    vehicles = refresh_battery_health(Session())
    log.info("battery health: %d vehicles estimated", vehicles)
    return vehicles
