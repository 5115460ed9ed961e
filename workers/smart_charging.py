"""Smart charging jobs (`portal.services.charging.smart`).

- `replan_depots_job`: every 15 minutes, re-plan the depots whose planning is on; a
  depot keeps its plan unless a new one saves more than the threshold.
- `replan_depot_job(depot_id)`: one depot, after a car arrived or left (asked for by the
  CSMS) or a session strayed from its plan; debounced per depot (`charging.replan`).
- `check_plan_strays_job`: every minute, the sessions metering off their plan; each
  asks for one re-plan of its depot per plan, so a car that keeps straying from a plan
  the re-plan keeps does not ask again and again.

A new plan goes to the chargers as charging profiles: each job commits before it
enqueues the commands it logged."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session as OrmSession

from charging import replan
from portal.db import Session
from portal.services.charging import smart

from .jobs import job
from .ocpp import enqueue_command
from .queues import redis_connection

log = logging.getLogger(__name__)

# A session strays from a plan once: the mark outlives the plan's horizon.
STRAY_MARK_TTL = timedelta(hours=24)


@job("default")
def replan_depots_job() -> int:
    """Re-plan every depot with planning on; the number of new plans kept."""
    session = Session()
    return _send(session, smart.replan_enabled_depots(session))


@job("default", unique=False)
def replan_depot_job(depot_id: int) -> bool:
    """Re-plan one depot after a change; whether a new plan was kept (and sent)."""
    replan.take_request(redis_connection(), depot_id)  # a change from now on asks again
    session = Session()
    result = smart.replan_depot(session, depot_id)
    if result is None:
        return False
    log.info(
        "depot %s: %s (saving %s centavos)",
        depot_id,
        "new plan" if result.new else "plan kept",
        result.saving_cents,
    )
    return _send(session, [result]) > 0


@job("default")
def check_plan_strays_job() -> int:
    """Ask for a re-plan of the depots with a session off its plan (once per session and
    plan); the number of depots asked for."""
    redis = redis_connection()
    fresh = [
        s
        for s in smart.strays(Session())
        if redis.set(_stray_mark(s.plan_id, s.session_id), 1, nx=True, px=STRAY_MARK_TTL)
    ]
    for s in fresh:
        log.info(
            "session %s metered %.1f kW against %.1f kW planned (plan %s)",
            s.session_id,
            s.metered_kw,
            s.planned_kw,
            s.plan_id,
        )
    return len(replan.request_replans(redis, {s.depot_id for s in fresh}, "a session strayed"))


def _stray_mark(plan_id: int, session_id: int) -> str:
    return f"smart:stray:{plan_id}:{session_id}"


def _send(session: OrmSession, results: list[smart.Replan]) -> int:
    """Log the new plans' profiles, commit, then enqueue them (with those of a kept plan
    still queued: a retry after a failure past the commit); the number of new plans."""
    commands = [
        c
        for r in results
        for c in (
            smart.send_plan(session, r.plan) if r.new else smart.unsent_profiles(session, r.plan)
        )
    ]
    session.commit()
    for command in commands:
        enqueue_command(command)
    new = sum(r.new for r in results)
    log.info("smart charging: %d new plans, %d profiles", new, len(commands))
    return new
