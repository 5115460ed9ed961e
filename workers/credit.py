"""Credit jobs: scoring an application with the active model."""

from __future__ import annotations

import logging

from portal.db import Session
from portal.models import ApplicationStatus, CreditApplication
from portal.services import DomainError
from portal.services.credit.scoring import mark_scoring_failed
from portal.timeutil import local_today
from scoring.store import score_application

from .jobs import job

log = logging.getLogger(__name__)


@job("scoring")
def score_application_job(application_id: int, revision: int | None = None) -> int | None:
    """Score the application's current data (queued after the commit that submitted it
    or changed it; `revision` only makes a job per data change). Idempotent: an
    application no longer waiting for a score is left alone. A business refusal (no
    consent, no active model) is recorded on the application instead of retried."""
    session = Session()
    application = session.get(CreditApplication, application_id, with_for_update=True)
    if application is None or application.status != ApplicationStatus.SCORING:
        return None
    try:
        with session.begin_nested():
            score = score_application(session, application_id, today=local_today())
    except DomainError as error:
        # The English message id; the page translates it for whoever reads it.
        mark_scoring_failed(session, application_id, error.message)
        log.warning("application %s not scored: %s", application_id, error)
        return None
    log.info("application %s scored %s (%s)", application_id, score.score, score.band)
    return score.id
