"""Ledger jobs on a real Redis and RQ worker: run twice, run late, render the PDF."""

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from portal.models import EntryKind, LedgerEntry, PdfStatus, Statement
from portal.services.ledger import post_entry
from portal.timeutil import local_midnight, local_today, monday_of
from tests.servers import TEST_REDIS
from workers import queues
from workers.ledger import (
    assess_late_fees_job,
    close_statements_job,
    post_weekly_rent_job,
    render_statement_pdf_job,
)

THIS_MONDAY = monday_of(local_today())
LAST_MONDAY = THIS_MONDAY - timedelta(weeks=1)


@pytest.fixture
def redis_queues(redis_queues, app, tmp_path, monkeypatch):
    """The shared real-Redis queues, with the PDFs stored under the test's own folder."""
    monkeypatch.setitem(app.config, "STATEMENTS_DIR", str(tmp_path))
    return redis_queues


def _work(connection):
    worker = SimpleWorker(
        [Queue(n, connection=connection) for n in queues.QUEUES], connection=connection
    )
    worker.work(burst=True)


def _count(db, kind):
    return db.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == kind))


def test_weekly_rent_job_twice_posts_once(redis_queues, db, make_contract):
    make_contract(starts_on=LAST_MONDAY - timedelta(weeks=2))
    first = post_weekly_rent_job.delay()
    _work(redis_queues)
    second = Queue("default", connection=redis_queues).enqueue(post_weekly_rent_job)
    _work(redis_queues)
    assert first.return_value() == 1
    assert second.return_value() == 0
    assert _count(db, EntryKind.RENT) == 1


def test_a_job_that_waited_in_the_queue_posts_for_the_week_it_was_created(
    redis_queues, db, make_contract
):
    contract = make_contract(starts_on=LAST_MONDAY - timedelta(weeks=2))
    queued = Queue("default", connection=redis_queues).enqueue(post_weekly_rent_job)
    # Created last Monday at 00:00:03 (Mexico City); a worker picks it up only now.
    queued.created_at = local_midnight(LAST_MONDAY) + timedelta(seconds=3)
    queued.save()
    _work(redis_queues)
    keys = set(db.scalars(select(LedgerEntry.idempotency_key)))
    assert keys == {f"rent:{contract.id}:{LAST_MONDAY.isoformat()}"}


def test_late_fees_job_is_idempotent(redis_queues, db, make_contract):
    contract = make_contract(starts_on=LAST_MONDAY - timedelta(weeks=2), grace_days=1)
    post_weekly_rent_job.delay(LAST_MONDAY.isoformat())
    _work(redis_queues)
    day = (LAST_MONDAY + timedelta(days=3)).isoformat()
    Queue("default", connection=redis_queues).enqueue(assess_late_fees_job, day)
    Queue("default", connection=redis_queues).enqueue(assess_late_fees_job, day)
    _work(redis_queues)
    fees = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.LATE_FEE)).all()
    assert [f.idempotency_key for f in fees] == [
        f"late_fee:{contract.id}:{LAST_MONDAY.isoformat()}"
    ]


def test_closing_job_closes_last_week_and_renders_the_pdf(
    redis_queues, db, make_contract, tmp_path
):
    contract = make_contract(starts_on=LAST_MONDAY - timedelta(weeks=2))
    post_weekly_rent_job.delay(LAST_MONDAY.isoformat())
    _work(redis_queues)
    post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.PAYMENT,
        amount_cents=-200_000,
        idempotency_key="pay:job",
        description="Pago SPEI",
        reference="REF-778899",
        posted_at=local_midnight(LAST_MONDAY) + timedelta(days=1, hours=9),
    )
    db.commit()
    close_statements_job.delay()  # default: the week that ended last Monday... this Monday
    _work(redis_queues)  # closes, then runs the PDF job queued on `statements`
    statement = db.scalar(select(Statement))
    db.refresh(statement)
    assert statement.week_start == LAST_MONDAY
    assert statement.closing_balance_cents == 150_000
    assert statement.pdf_status == PdfStatus.READY
    pdf = Path(tmp_path, statement.pdf_path)
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == statement.pdf_sha256

    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "Estado de cuenta semanal",
        contract.number,
        contract.driver.curp,
        contract.vehicle.plate,
        "Renta semanal",
        "$3,500.00",  # the rent
        "$2,000.00",  # the payment
        "$1,500.00",  # the closing balance
        "REF-778899",
        "Todavía no tienes CLABE",  # the factory driver has no payment account yet
        "Cómo pagar",
        "Página 1 de 1",
    ):
        assert expected.lower() in text.lower(), expected

    # Rendering again keeps the stored PDF; forcing makes a new one.
    generated = statement.pdf_generated_at
    render_statement_pdf_job.delay(statement.id)
    _work(redis_queues)
    db.refresh(statement)
    assert statement.pdf_generated_at == generated
    Queue("statements", connection=redis_queues).enqueue(
        render_statement_pdf_job, statement.id, True
    )
    _work(redis_queues)
    db.refresh(statement)
    assert statement.pdf_generated_at > generated


def test_the_cron_config_registers_the_ledger_schedules():
    from rq import cron

    from workers.cron import __file__ as config_path

    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file(config_path)
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs["weekly-rent"].cron == "0 0 * * 1"
    assert jobs["weekly-rent"].func is post_weekly_rent_job
    assert jobs["close-statements"].cron == "5 0 * * 1"
    assert jobs["close-statements"].func is close_statements_job
    assert jobs["late-fees"].cron == "15 0 * * *"
    assert jobs["late-fees"].func is assess_late_fees_job
    ledger = ("weekly-rent", "close-statements", "late-fees")
    assert {jobs[name].queue_name for name in ledger} == {"default"}


def test_procfile_runs_the_scheduler_in_mexico_city_time():
    procfile = Path(__file__).parents[2] / "Procfile"
    line = next(x for x in procfile.read_text().splitlines() if x.startswith("scheduler:"))
    assert "TZ=America/Mexico_City" in line
    assert "rq cron workers/cron.py" in line
