"""Smart charging job: every 15 minutes, re-plan the depots whose planning is on
(`portal.services.charging.smart`); a depot keeps its plan unless a new one saves more
than the threshold."""

from __future__ import annotations

import logging

from portal.db import Session
from portal.services.charging import smart

from .jobs import job

log = logging.getLogger(__name__)


@job("default")
def replan_depots_job() -> int:
    """Re-plan every depot with planning on; the number of new plans kept."""
    new = sum(r.new for r in smart.replan_enabled_depots(Session()))
    log.info("smart charging: %d new plans", new)
    return new
