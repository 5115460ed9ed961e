"""Jobs on a real Redis with a real RQ worker (burst mode, in this process)."""

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from portal.db import Session
from portal.models import Depot
from workers import queues
from workers.jobs import job


@job("default")
def rename_depot_job(depot_id: int, name: str) -> str:
    depot = Session.get(Depot, depot_id)
    depot.name = name
    return name


@job("default")
def failing_job(depot_id: int) -> None:
    Session.get(Depot, depot_id).name = "half-written"
    raise RuntimeError("the outside world said no")


def _work(connection):
    worker = SimpleWorker(
        [Queue(n, connection=connection) for n in queues.QUEUES], connection=connection
    )
    worker.work(burst=True)


def test_a_job_runs_on_its_named_queue_and_commits(redis_queues, db, make_depot):
    depot = make_depot()
    queued = rename_depot_job.delay(depot.id, "Depósito Vallejo")
    assert queued.origin == "default"
    assert queued.args == (depot.id, "Depósito Vallejo")  # ids, not objects
    _work(redis_queues)
    queued.refresh()
    assert queued.get_status() == "finished"
    assert db.scalar(select(Depot.name).where(Depot.id == depot.id)) == "Depósito Vallejo"


def test_a_failed_job_leaves_nothing_half_written(redis_queues, db, make_depot):
    depot = make_depot(name="Depósito Sur")
    queued = failing_job.delay(depot.id)
    _work(redis_queues)
    queued.refresh()
    assert queued.get_status() in {"failed", "scheduled"}  # scheduled: waiting to retry
    db.expire_all()
    assert db.get(Depot, depot.id).name == "Depósito Sur"


def test_the_same_job_is_not_queued_twice(redis_queues, make_depot):
    depot = make_depot()
    first = rename_depot_job.delay(depot.id, "A")
    second = rename_depot_job.delay(depot.id, "A")
    assert first.id == second.id
    assert Queue("default", connection=redis_queues).count == 1


def test_without_redis_jobs_run_in_process(app, db, make_depot):
    queues.configure("", app_factory=lambda: app)
    try:
        depot = make_depot()
        rename_depot_job.delay(depot.id, "En proceso").result(timeout=10)
    finally:
        queues.configure("")
    db.expire_all()
    assert db.get(Depot, depot.id).name == "En proceso"


def test_unknown_queue_is_refused():
    with pytest.raises(ValueError, match="unknown queue"):
        queues.get_queue("nope")
