"""Periodic jobs for `rq cron workers/cron.py` (the `scheduler` process in the Procfile).

Cron expressions are read in the scheduler's local time: the Procfile runs it with
TZ=America/Mexico_City, so "0 0 * * 1" is Monday 00:00 in Mexico City. Each area keeps
its registrations in its own block.
"""

from rq import cron

from workers.battery import refresh_battery_health_job
from workers.bookings import release_no_shows_job, reserve_opening_windows_job
from workers.kpis import refresh_kpis_job
from workers.ledger import assess_late_fees_job, close_statements_job, post_weekly_rent_job
from workers.smart_charging import check_plan_strays_job, replan_depots_job
from workers.telemetry import (
    check_vehicle_alerts_job,
    ensure_telemetry_partitions_job,
    prune_telemetry_rejects_job,
    rollup_fleet_job,
)

# --- Ledger --------------------------------------------------------------------------------
# Monday 00:00: the new week's rent for every active contract.
cron.register(post_weekly_rent_job, "default", cron="0 0 * * 1", name="weekly-rent")
# Monday 00:05: close last week's statements (their PDFs follow on `statements`).
cron.register(close_statements_job, "default", cron="5 0 * * 1", name="close-statements")
# Every day at 00:15: late fees for rent weeks past their grace days.
cron.register(assess_late_fees_job, "default", cron="15 0 * * *", name="late-fees")

# --- Telemetry -----------------------------------------------------------------------------
cron.register(check_vehicle_alerts_job, "telemetry", interval=60)
cron.register(rollup_fleet_job, "telemetry", interval=300)
cron.register(ensure_telemetry_partitions_job, "telemetry", cron="15 3 * * *")
# Every day at 03:45: the quarantine of refused messages keeps 30 days (anyone can fill it).
cron.register(prune_telemetry_rejects_job, "telemetry", cron="45 3 * * *", name="prune-rejects")

# --- Charging bookings ---------------------------------------------------------------------
# Every minute: ReserveNow for the windows that open, and release the no-shows.
cron.register(reserve_opening_windows_job, "ocpp", cron="* * * * *", name="reserve-bookings")
cron.register(release_no_shows_job, "ocpp", cron="* * * * *", name="release-no-shows")

# --- KPI dashboard -------------------------------------------------------------------------
# Every day at 01:30 (after the ledger's jobs and yesterday's km): roll up the closed days.
cron.register(refresh_kpis_job, "default", cron="30 1 * * *", name="kpi-rollup")

# --- Battery health ------------------------------------------------------------------------
# Every day at 02:30 (after the night's charging, before the depots open): sessions joined
# to their cars, then every car's state of health.
cron.register(refresh_battery_health_job, "telemetry", cron="30 2 * * *", name="battery-health")

# --- Smart charging ------------------------------------------------------------------------
# Every 15 minutes, on the slots' edges: re-plan the depots with planning on.
cron.register(replan_depots_job, "default", cron="*/15 * * * *", name="smart-charging")
# Every minute: the sessions metering off their plan ask for a re-plan of their depot.
cron.register(check_plan_strays_job, "default", cron="* * * * *", name="smart-charging-strays")
