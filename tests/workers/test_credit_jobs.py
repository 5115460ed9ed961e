"""Scoring on a real Redis and RQ worker: queued after submit, idempotent, refusals kept."""

import os

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from portal.models import ApplicationStatus, CreditScore
from portal.services import credit
from workers import queues
from workers.credit import score_application_job

TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_queues(app):
    connection = Redis.from_url(TEST_REDIS)
    connection.flushdb()
    queues.configure(TEST_REDIS)
    with app.app_context():
        yield connection
    connection.flushdb()
    queues.configure("")


def _work(connection):
    SimpleWorker(
        [Queue(n, connection=connection) for n in queues.QUEUES], connection=connection
    ).work(burst=True)


def test_a_submitted_application_is_scored_on_the_scoring_queue(
    redis_queues, db, make_application, active_model
):
    application = make_application()
    credit.submit_application(db, application, actor_id=None, ip=None)
    queued = score_application_job.delay(application.id, application.revision)
    assert queued.origin == "scoring"
    _work(redis_queues)
    db.expire_all()
    assert application.status in (ApplicationStatus.SCORED, ApplicationStatus.REFERRED)
    score = db.scalar(select(CreditScore).where(CreditScore.application_id == application.id))
    assert queued.return_value() == score.id
    # Run again: the application no longer waits for a score, nothing new is written.
    Queue("scoring", connection=redis_queues).enqueue(score_application_job, application.id)
    _work(redis_queues)
    count = db.scalar(
        select(func.count(CreditScore.id)).where(CreditScore.application_id == application.id)
    )
    assert count == 1


def test_without_an_active_model_the_refusal_is_recorded(redis_queues, db, make_application):
    application = make_application()
    credit.submit_application(db, application, actor_id=None, ip=None)
    score_application_job.delay(application.id, application.revision)
    _work(redis_queues)
    db.expire_all()
    assert application.status == ApplicationStatus.SUBMITTED
    assert "No credit model is active" in application.scoring_error
