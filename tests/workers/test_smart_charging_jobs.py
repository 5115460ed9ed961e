"""The smart-charging jobs on a real Redis and RQ worker: every 15 minutes, a plan for
each depot with planning on; a re-plan of one depot when asked (debounced); every
minute, the sessions straying from their plan."""

from datetime import timedelta
from decimal import Decimal

import pytest
from redis import Redis
from rq import Queue, cron
from sqlalchemy import func, select

from charging import replan
from portal.models import (
    ChargerCommand,
    ChargingPlan,
    ChargingSession,
    CommandAction,
    CommandStatus,
    ConnectorType,
)
from portal.services.charging import smart
from tests.servers import TEST_REDIS
from tests.services.charging.test_smart import NOW, _power, _soc, _tariff
from tests.workers.test_booking_jobs import _work
from workers import smart_charging
from workers.smart_charging import check_plan_strays_job, replan_depots_job


def test_the_job_plans_the_depots_with_planning_on(
    redis_queues, db, clock, make_depot, make_charger, make_vehicle, make_charging_session
):
    clock.pin(NOW)
    on, off = make_depot(site_power_kw=Decimal("50")), make_depot()
    for depot in (on, off):
        _tariff(db, depot)
        charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "22")])
        car = make_vehicle(depot=depot)
        _soc(db, car, 20)
        make_charging_session(charger, vehicle_id=car.id)
        if depot is on:
            on_charger = charger
    smart.set_planning(db, on, True, actor_id=None)
    replan_depots_job.delay()
    _work(redis_queues)
    plans = db.scalars(select(ChargingPlan)).all()
    assert [p.depot_id for p in plans] == [on.id]
    # Its profile was logged and sent (no CSMS holds the charger here: failed as offline).
    (command,) = db.scalars(
        select(ChargerCommand).where(ChargerCommand.action == CommandAction.SET_CHARGING_PROFILE)
    ).all()
    assert command.charger_id == on_charger.id
    assert command.params["purpose"] == "tx"


def test_the_cron_config_replans_every_15_minutes():
    from workers.cron import __file__ as config_path

    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file(config_path)
    jobs = {j.name: j for j in scheduler.get_jobs()}
    assert jobs["smart-charging"].func is replan_depots_job
    assert jobs["smart-charging"].cron == "*/15 * * * *"
    assert jobs["smart-charging-strays"].func is check_plan_strays_job
    assert jobs["smart-charging-strays"].cron == "* * * * *"


def _run_scheduled(redis):
    """Run now, here, the jobs scheduled for later (as a worker would when their time
    comes: the function their name resolves to); how many there were. (A burst worker
    started again and again sometimes stalls a minute tearing down its pubsub thread.)"""
    queue = Queue("default", connection=redis)
    registry = queue.scheduled_job_registry
    ids = registry.get_job_ids()
    for job_id in ids:
        job = queue.fetch_job(job_id)
        registry.remove(job)
        job.func(*job.args, **job.kwargs)
    return len(ids)


def _profiles(db):
    return db.scalar(
        select(func.count())
        .select_from(ChargerCommand)
        .where(ChargerCommand.action == CommandAction.SET_CHARGING_PROFILE)
    )


@pytest.fixture
def plugged_in(db, clock, make_depot, make_charger, make_vehicle, make_charging_session):
    """A depot with planning on and a car plugged in at 20 % at 18:00 (it leaves at 06:00:
    a plan that holds, whatever the time the tests run)."""
    clock.pin(NOW)
    depot = make_depot(site_power_kw=Decimal("50"))
    _tariff(db, depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "22")])
    car = make_vehicle(depot=depot)
    _soc(db, car, 20)
    make_charging_session(charger, vehicle_id=car.id)
    smart.set_planning(db, depot, True, actor_id=None)
    return depot


def test_a_burst_of_requests_is_one_replan_that_sends_the_new_plan(redis_queues, db, plugged_in):
    for _ in range(20):
        replan.request_replans(redis_queues, [plugged_in.id], "a car arrived")
    queue = Queue("default", connection=redis_queues)
    (job_id,) = queue.scheduled_job_registry.get_job_ids()
    job = queue.fetch_job(job_id)
    assert (job.func_name, job.args) == (replan.REPLAN_JOB, (plugged_in.id,))
    assert _run_scheduled(redis_queues) == 1
    (plan,) = db.scalars(select(ChargingPlan)).all()
    assert plan.depot_id == plugged_in.id
    assert _profiles(db) == 1
    # The job took the request: the next change asks for a new re-plan, which keeps the
    # plan (nothing changed) and sends nothing.
    assert replan.request_replans(redis_queues, [plugged_in.id], "a car left") == [plugged_in.id]
    assert _run_scheduled(redis_queues) == 1
    assert db.scalar(select(func.count()).select_from(ChargingPlan)) == 1
    assert _profiles(db) == 1


def test_a_stream_of_strays_asks_once_and_resends_no_profile(redis_queues, db, clock, plugged_in):
    clock.pin(NOW)
    replan_depots_job()  # as the scheduler runs it every 15 minutes
    (plan,) = db.scalars(select(ChargingPlan)).all()
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id.isnot(None)))
    key = next(k for k, car in plan.cars.items() if car["session_id"] == session.id)
    assert plan.schedule[key][0] == 0.0  # punta: held back
    asked = 0
    # The car draws 11 kW regardless, reading after reading (a charger slow to obey).
    for minute in range(2, 14):
        _power(db, session, NOW + timedelta(minutes=minute), 11.0)
        clock.pin(NOW + timedelta(minutes=minute, seconds=30))
        check_plan_strays_job()  # as the scheduler runs it each minute
        asked += _run_scheduled(redis_queues)
    # One re-plan for the stream; it kept the plan (saving nothing), so no profile again.
    assert asked == 1
    assert db.scalar(select(func.count()).select_from(ChargingPlan)) == 1
    assert _profiles(db) == 1


def test_a_replan_retried_after_its_commit_still_sends_the_profiles(
    redis_queues, db, plugged_in, monkeypatch
):
    def bus_down(command):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(smart_charging, "enqueue_command", bus_down)
    with pytest.raises(ConnectionError):
        smart_charging.replan_depot_job(plugged_in.id)  # the plan and its profile committed
    monkeypatch.undo()
    (command,) = db.scalars(select(ChargerCommand)).all()
    assert command.status == CommandStatus.QUEUED
    assert not smart_charging.replan_depot_job(plugged_in.id)  # the retry keeps the plan
    _work(redis_queues)
    db.expire_all()
    # Its profile went to the bus this time (no CSMS holds the charger: failed as offline).
    assert db.get(ChargerCommand, command.id).status == CommandStatus.FAILED
    assert db.scalar(select(func.count()).select_from(ChargerCommand)) == 1
