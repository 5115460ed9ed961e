"""Periodic jobs for `rq cron` (the `scheduler` process in the Procfile).

Cron expressions are read in the scheduler's local time: the Procfile runs it with
TZ=America/Mexico_City.
"""

from rq import cron

# --- charging bookings (branch charging-ui) ------------------------------------------
from workers.bookings import release_no_shows_job, reserve_opening_windows_job

# Every minute: ReserveNow for the windows that open, and release the no-shows.
cron.register(reserve_opening_windows_job, "ocpp", cron="* * * * *", name="reserve-bookings")
cron.register(release_no_shows_job, "ocpp", cron="* * * * *", name="release-no-shows")
# --- end charging bookings ------------------------------------------------------------
