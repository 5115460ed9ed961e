"""The booking clock on a real Redis and RQ worker: ReserveNow when a window opens, the
command job after it (no CSMS holds the charger here, so it fails as offline), and the
release of no-shows."""

from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from portal.db import utcnow
from portal.models import (
    Booking,
    BookingStatus,
    ChargerCommand,
    CommandAction,
    CommandStatus,
    ConnectorType,
    IdTag,
)
from tests.servers import TEST_REDIS
from workers import queues
from workers.bookings import release_no_shows_job, reserve_opening_windows_job


def _work(connection):
    SimpleWorker(
        [Queue(n, connection=connection) for n in queues.QUEUES], connection=connection
    ).work(burst=True)


@pytest.fixture
def open_booking(db, make_charger, make_contract, make_vehicle):
    charger = make_charger(connectors=[(ConnectorType.CCS2, "60")])
    contract = make_contract(vehicle=make_vehicle(depot=charger.depot))
    db.add(IdTag(tag="LAFA4242", driver_id=contract.driver_id))
    start = utcnow() - timedelta(minutes=2)
    booking = Booking(
        driver_id=contract.driver_id,
        vehicle_id=contract.vehicle_id,
        depot_id=charger.depot_id,
        connector_type=ConnectorType.CCS2,
        charger_id=charger.id,
        connector_id=charger.connectors[0].id,
        window_start=start,
        window_end=start + timedelta(hours=1),
    )
    db.add(booking)
    db.flush()
    return booking


def test_reserve_job_logs_reserve_now_and_the_command_job_answers(redis_queues, db, open_booking):
    queued = reserve_opening_windows_job.delay()
    assert queued.origin == "ocpp"
    _work(redis_queues)
    db.expire_all()
    booking = db.get(Booking, open_booking.id)
    assert booking.status == BookingStatus.RESERVED
    command = db.scalar(
        select(ChargerCommand).where(ChargerCommand.id == booking.reserve_command_id)
    )
    assert command.action == CommandAction.RESERVE_NOW
    # The command job ran after the reserve job's commit; no CSMS process holds the
    # charger in this test, so the bus says it is offline, and the log says why.
    assert command.status == CommandStatus.FAILED
    assert command.error == "The charger is offline."


def test_release_job_releases_no_shows(redis_queues, db, open_booking):
    open_booking.window_start = utcnow() - timedelta(minutes=30)
    open_booking.window_end = open_booking.window_start + timedelta(hours=1)
    db.flush()
    release_no_shows_job.delay()
    _work(redis_queues)
    db.expire_all()
    assert db.get(Booking, open_booking.id).status == BookingStatus.NO_SHOW


def test_the_cron_config_runs_the_booking_clock_every_minute():
    from rq import cron

    from workers.cron import __file__ as config_path

    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file(config_path)
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs["reserve-bookings"].func is reserve_opening_windows_job
    assert jobs["release-no-shows"].func is release_no_shows_job
    for name in ("reserve-bookings", "release-no-shows"):
        assert jobs[name].cron == "* * * * *"
        assert jobs[name].queue_name == "ocpp"
