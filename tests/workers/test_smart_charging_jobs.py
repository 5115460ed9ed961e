"""The smart-charging job on a real Redis and RQ worker: every 15 minutes, a plan for
each depot with planning on."""

from decimal import Decimal

from redis import Redis
from rq import cron
from sqlalchemy import select

from portal.models import ChargerCommand, ChargingPlan, CommandAction, ConnectorType
from portal.services.charging import smart
from tests.servers import TEST_REDIS
from tests.services.charging.test_smart import _soc, _tariff
from tests.workers.test_booking_jobs import _work
from workers.smart_charging import replan_depots_job


def test_the_job_plans_the_depots_with_planning_on(
    redis_queues, db, make_depot, make_charger, make_vehicle, make_charging_session
):
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
    job = next(j for j in scheduler.get_jobs() if j.name == "smart-charging")
    assert job.func is replan_depots_job
    assert job.cron == "*/15 * * * *"
