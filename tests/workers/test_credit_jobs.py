"""Scoring on a real Redis and RQ worker: queued after submit, idempotent, refusals kept."""

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from portal.models import ApplicationStatus, CreditApplication, CreditScore
from portal.services.credit.applications import submit_application
from workers import queues
from workers.credit import score_application_job


def _work(connection):
    SimpleWorker(
        [Queue(n, connection=connection) for n in queues.QUEUES], connection=connection
    ).work(burst=True)


def test_a_submitted_application_is_scored_on_the_scoring_queue(
    redis_queues, db, make_application, active_model
):
    application = make_application()
    submit_application(db, application, actor_id=None, ip=None)
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
    submit_application(db, application, actor_id=None, ip=None)
    score_application_job.delay(application.id, application.revision)
    _work(redis_queues)
    db.expire_all()
    assert application.status == ApplicationStatus.SUBMITTED
    assert "No credit model is active" in application.scoring_error


def test_an_application_from_the_public_form_is_scored_like_a_staff_one(
    redis_queues, client, db, active_model
):
    from tests.web.credit.test_applicant import _curp, _form

    response = client.post("/solicitud", data=_form(70))
    assert response.status_code == 303
    _work(redis_queues)
    application = db.scalar(select(CreditApplication).where(CreditApplication.curp == _curp(70)))
    db.refresh(application)
    assert application.self_service
    assert application.status in (ApplicationStatus.SCORED, ApplicationStatus.REFERRED)
    score = db.scalar(select(CreditScore).where(CreditScore.application_id == application.id))
    assert score.features["rating"] == 4.8
    page = client.get("/solicitud/enviada")
    assert str(score.score) not in page.text
    assert score.band not in page.text.split("<main", 1)[1].replace("LAFA", "")
