"""Ledger jobs: weekly rent, late fees, closing statements, statement PDFs.

The periodic ones are registered in `workers/cron.py`. When run by the scheduler they
work out their business day from the moment the job was created (Mexico City), not
from the moment a worker picks it up, so a job that waits in the queue (a worker was
down) still posts for the week or day it was meant for. Each takes an optional ISO
date to run by hand for a given week or day.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, timedelta

from rq import get_current_job

from portal import clock
from portal.db import Session
from portal.models import PdfStatus
from portal.services import billing, statements
from portal.timeutil import local_date, monday_of

from .jobs import job
from .queues import enqueue_after_commit

log = logging.getLogger(__name__)


def intended_day() -> date:
    """The Mexico City date the running job was created on (today outside a job)."""
    current = get_current_job()
    moment = current.created_at if current is not None and current.created_at else None
    moment = moment or clock.now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return local_date(moment)


@job("default")
def post_weekly_rent_job(week_start: str | None = None) -> int:
    week = date.fromisoformat(week_start) if week_start else monday_of(intended_day())
    posted = billing.post_weekly_rent(Session(), week)
    log.info("rent for the week of %s: %d entries posted", week, posted)
    return posted


@job("default")
def assess_late_fees_job(today: str | None = None) -> int:
    day = date.fromisoformat(today) if today else intended_day()
    posted = billing.assess_late_fees(Session(), day)
    log.info("late fees on %s: %d posted", day, posted)
    return posted


@job("default")
def close_statements_job(week_start: str | None = None) -> int:
    """Close the week that just ended (or `week_start`), then queue the PDFs."""
    week = (
        date.fromisoformat(week_start)
        if week_start
        else monday_of(intended_day()) - timedelta(weeks=1)
    )
    session = Session()
    closed = statements.close_statements(session, week)
    for statement_id in closed:
        statement = session.get(statements.Statement, statement_id)
        if statement is not None:
            statements.request_pdf(session, statement)
        # Queued once the job commits: the statements exist before their PDF jobs run.
        enqueue_after_commit(session, render_statement_pdf_job, statement_id)
    log.info("statements for the week of %s: %d closed", week, len(closed))
    return len(closed)


@job("statements")
def render_statement_pdf_job(statement_id: int, force: bool = False) -> str | None:
    """Render and store a statement's PDF; a PDF already made is kept unless `force`."""
    from flask import current_app

    from .statement_pdf import render_statement_pdf

    session = Session()
    statement = statements.get_statement(session, statement_id)
    if statement is None:
        return None
    directory = current_app.config["STATEMENTS_DIR"]
    if not force and statements.pdf_file(statement, directory) is not None:
        return statement.pdf_sha256
    try:
        pdf = render_statement_pdf(session, statement)
    except Exception:
        session.rollback()
        statement = statements.get_statement(session, statement_id)
        if statement is not None:
            statement.pdf_status = PdfStatus.FAILED
            session.commit()
        raise
    statements.store_pdf(session, statement, pdf, directory)
    return statement.pdf_sha256
