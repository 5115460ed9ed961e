"""Smart charging job: every 15 minutes, re-plan the depots whose planning is on
(`portal.services.charging.smart`); a depot keeps its plan unless a new one saves more
than the threshold. A new plan goes to the chargers as charging profiles: the job
commits before it enqueues the commands it logged."""

from __future__ import annotations

import logging

from portal.db import Session
from portal.services.charging import smart

from .jobs import job
from .ocpp import enqueue_command

log = logging.getLogger(__name__)


@job("default")
def replan_depots_job() -> int:
    """Re-plan every depot with planning on; the number of new plans kept."""
    session = Session()
    new = [r.plan for r in smart.replan_enabled_depots(session) if r.new]
    commands = [c for plan in new for c in smart.send_plan(session, plan)]
    session.commit()
    for command in commands:
        enqueue_command(command)
    log.info("smart charging: %d new plans, %d profiles", len(new), len(commands))
    return len(new)
