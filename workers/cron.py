"""Periodic jobs, for `rq cron workers/cron.py` (the `scheduler` process, run with
TZ=America/Mexico_City). Each area keeps its registrations in its own block."""

from rq import cron

# --- Telemetry ---------------------------------------------------------------------------
from workers.telemetry import (
    check_vehicle_alerts_job,
    ensure_telemetry_partitions_job,
    rollup_fleet_job,
)

cron.register(check_vehicle_alerts_job, "telemetry", interval=60)
cron.register(rollup_fleet_job, "telemetry", interval=300)
cron.register(ensure_telemetry_partitions_job, "telemetry", cron="15 3 * * *")
# --- end Telemetry -----------------------------------------------------------------------
