"""Dashboard jobs: the nightly rollup of closed days and contract outcomes."""

from __future__ import annotations

import logging

from portal.db import Session
from portal.services import balances
from portal.services.kpis.daily import refresh_rollups
from portal.timeutil import local_today

from .jobs import job

log = logging.getLogger(__name__)


@job("default")
def refresh_kpis_job() -> tuple[int, int]:
    """Check the account summaries against the ledger (fixing and logging any that
    drifted), then roll up the closed days since the last run (and recheck the last
    week), or the whole history the first time, and every contract's early-delinquency
    outcome. Idempotent: a day recomputed replaces its rows."""
    session = Session()
    repaired = balances.repair(session)
    if repaired:
        log.error("account summaries out of step with the ledger, fixed: %s", repaired)
    days, contracts = refresh_rollups(session, local_today())
    log.info("kpi rollup: %d days, %d contract outcomes", days, contracts)
    return days, contracts
