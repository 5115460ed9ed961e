"""Re-planning a depot when something changes there (docs/smart-charging.md).

A car that arrives or leaves (a transaction stored as started or stopped, or a session
closed as lost) and a session straying from its plan ask for a re-plan of their depot:
`request_replans` schedules `workers.smart_charging.replan_depot_job(depot_id)` on the
`default` queue `REPLAN_DELAY` from now, unless one is already pending for the depot —
a Redis key per depot (`pending_key`) that the job deletes before it reads anything, so
a burst of arrivals makes one plan, and a change committed after the job's read asks
for the next. The key's TTL only keeps a lost job (no scheduler running) from silencing
the depot for long; the 15-minute job covers the rest.

No Flask and no `workers` import: the CSMS calls this from a thread of its pool after
the commit that stored the change (never on its event loop), with a plain Redis client.
It knows which chargers are at depots with planning on from `PlannedDepots`, read at
most every `PLANNED_MAX_AGE`: a depot whose planning is turned on (or a charger moved
there) is noticed within that window, and the 15-minute job covers a change that fell
in it. One turned off meanwhile may still be asked for; the job finds it off and stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Charger, Depot, DepotPlanning

log = logging.getLogger(__name__)

REPLAN_JOB = "workers.smart_charging.replan_depot_job"
REPLAN_QUEUE = "default"
# Long enough for a burst of arrivals to be one plan, short enough that a car plugged in
# is planned (and held out of punta) within the minute.
REPLAN_DELAY = timedelta(seconds=15)
PENDING_TTL = timedelta(minutes=5)  # a pending key whose job never ran stops blocking
RETRY = Retry(max=3, interval=[10, 60, 300])
# How old the CSMS's knowledge of the planned depots may be (`PlannedDepots`).
PLANNED_MAX_AGE = 10.0


def pending_key(depot_id: int) -> str:
    return f"smart:replan:{depot_id}"


def planned_chargers(session: Session) -> dict[int, int]:
    """Every charger at a depot whose planning is on (active depots only): its depot."""
    rows = session.execute(
        select(Charger.id, Charger.depot_id)
        .join(DepotPlanning, DepotPlanning.depot_id == Charger.depot_id)
        .join(Depot, Depot.id == Charger.depot_id)
        .where(DepotPlanning.enabled.is_(True), Depot.retired_at.is_(None))
    )
    return {charger_id: depot_id for charger_id, depot_id in rows if depot_id is not None}


class PlannedDepots:
    """Which chargers are at depots with planning on, read again once it is older than
    `max_age` seconds: a burst's batches of starts and stops ask every few milliseconds,
    and are answered without a query (nor Redis, where no depot of theirs plans).
    Thread-safe; it reads the database in the calling thread (the CSMS's pool, never
    its event loop)."""

    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        max_age: float = PLANNED_MAX_AGE,
    ) -> None:
        self.sessions, self.max_age = sessions, max_age
        self._lock = threading.Lock()
        self._by_charger: dict[int, int] = {}
        self._read_at = float("-inf")

    def of(self, charger_ids: Iterable[int]) -> list[int]:
        """The depots of these chargers whose planning is on (as of `max_age` ago)."""
        with self._lock:
            started = time.monotonic()
            if started - self._read_at >= self.max_age:
                with self.sessions() as session:
                    self._by_charger = planned_chargers(session)
                self._read_at = started
            by_charger = self._by_charger
        return sorted({by_charger[c] for c in charger_ids if c in by_charger})


def request_replans(redis: Redis, depot_ids: Iterable[int], reason: str) -> list[int]:
    """Schedule a re-plan of each depot unless one is pending; the depots scheduled now."""
    scheduled = []
    for depot_id in sorted(set(depot_ids)):
        if not redis.set(pending_key(depot_id), reason, nx=True, px=PENDING_TTL):
            continue
        Queue(REPLAN_QUEUE, connection=redis).enqueue_in(
            REPLAN_DELAY, REPLAN_JOB, depot_id, retry=RETRY
        )
        scheduled.append(depot_id)
    if scheduled:
        log.info("re-plan of depots %s in %s s (%s)", scheduled, REPLAN_DELAY.seconds, reason)
    return scheduled


def take_request(redis: Redis, depot_id: int) -> None:
    """The job is about to read the depot: a change from now on asks for a new job."""
    redis.delete(pending_key(depot_id))
