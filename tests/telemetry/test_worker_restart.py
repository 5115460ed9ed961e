"""Killing the RQ worker in the middle of a telemetry job loses and duplicates nothing.

A real worker (`flask worker`, a separate process on this run's database and Redis db)
runs `rollup_vehicle_job`. The test holds a row lock that the job needs half-way
(after it has deleted the vehicle's recent trips, before it rewrites its charging
episodes), waits until PostgreSQL shows the worker waiting on it, and SIGKILLs the
worker and its work horse. Nothing of the half-done job is committed; RQ hands the
abandoned job back to the queue (its retry) and a new worker runs it to the same
result as one clean run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.config import ROOT
from portal.models import ChargingEpisode, VehicleDailyKm, VehicleTrip
from portal.services import telemetry as ingest
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today
from telemetry.codec import make_record
from tests.services import TEST_REDIS
from tests.waiting import wait_until
from workers.telemetry import rollup_vehicle_job

DEPOT = (19.4895, -99.1468)
DELETING_EPISODES = "query LIKE 'DELETE FROM vehicle_charging_episodes%'"


def store(engine, imei: str, records: list) -> None:
    with Session(engine) as session:
        ingest.store_records(session, [(imei, r) for r in records], datetime.now(UTC))
        session.commit()


def drive(start: datetime, odometer_m: int, minutes: int = 10) -> list:
    """A drive out of the depot (a reading every 30 s), then the car parked."""
    points = []
    for i in range(minutes * 2 + 1):
        moving = i < minutes * 2
        points.append(
            make_record(
                start + timedelta(seconds=30 * i),
                latitude=DEPOT[0] + 0.002 * i,
                longitude=DEPOT[1],
                satellites=9,
                speed=40 if moving else 0,
                io={239: int(moving), 240: int(moving), 16: odometer_m + 250 * i, 152: 60},
            )
        )
    return points


def charge(start: datetime, odometer_m: int) -> list:
    """Twenty minutes plugged in at the depot, then unplugged."""
    return [
        make_record(
            start + timedelta(minutes=2 * i),
            latitude=DEPOT[0],
            longitude=DEPOT[1],
            satellites=9,
            io={239: 0, 16: odometer_m, 152: 50 + i, 915: int(i < 10), 914: int(i < 10)},
        )
        for i in range(11)
    ]


def worker(engine, *args: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REDIS_URL": TEST_REDIS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args, "telemetry"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # SIGTERM to its group stops the worker and its work horse
    )


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def activity(engine, condition: str) -> int | None:
    """The pid of a session of this database in `condition` (pg_stat_activity), read on
    a fresh connection: within one transaction PostgreSQL shows the same snapshot."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"  # noqa: S608
                f" AND pid <> pg_backend_pid() AND {condition}"
            )
        ).scalar()


def derived(engine, vehicle_id: int) -> tuple[list, list, list]:
    with Session(engine) as session:
        trips = session.execute(
            select(VehicleTrip.started_at, VehicleTrip.ended_at, VehicleTrip.distance_m)
            .where(VehicleTrip.vehicle_id == vehicle_id)
            .order_by(VehicleTrip.started_at)
        ).all()
        episodes = session.execute(
            select(ChargingEpisode.started_at, ChargingEpisode.ended_at)
            .where(ChargingEpisode.vehicle_id == vehicle_id)
            .order_by(ChargingEpisode.started_at)
        ).all()
        days = session.execute(
            select(VehicleDailyKm.day, VehicleDailyKm.km).where(
                VehicleDailyKm.vehicle_id == vehicle_id
            )
        ).all()
    return list(trips), list(episodes), list(days)


def test_killing_the_worker_mid_job_loses_and_duplicates_nothing(
    engine, redis_queues, committed_fleet
):
    fleet = committed_fleet(1)
    (imei, vehicle_id), *_ = fleet.vehicles.items()
    now = datetime.now(UTC).replace(microsecond=0)
    store(engine, imei, drive(now - timedelta(minutes=120), 10_000))
    store(engine, imei, charge(now - timedelta(minutes=90), 20_000))

    # A first, clean run: one trip, one charging episode.
    first = rollup_vehicle_job.delay(vehicle_id)
    assert worker(engine, "--burst").wait(timeout=120) == 0
    assert first.get_status(refresh=True) == "finished"
    trips, episodes, days = derived(engine, vehicle_id)
    assert len(trips) == 1
    assert len(episodes) == 1

    # A second drive arrives; the job runs again and is killed half-way.
    store(engine, imei, drive(now - timedelta(minutes=40), 20_000))
    with engine.connect() as locker, locker.begin():
        locker.execute(
            text("SELECT id FROM vehicle_charging_episodes WHERE vehicle_id = :v FOR UPDATE"),
            {"v": vehicle_id},
        )
        job = rollup_vehicle_job.delay(vehicle_id)
        running = worker(engine, "--burst")  # no scheduler: its lock would outlive it
        try:
            backend = wait_until(
                lambda: activity(engine, f"wait_event_type = 'Lock' AND {DELETING_EPISODES}"),
                what="the job to wait for the charging episodes (its trips already deleted)",
            )
        finally:
            # The work horse runs the job in a process group of its own: kill both.
            for pid in [*children(running.pid), running.pid]:
                os.kill(pid, signal.SIGKILL)
            running.wait(timeout=30)
    # The lock released, the killed job's database session ends without a commit.
    wait_until(lambda: not activity(engine, f"pid = {int(backend)}"), what="its session to end")
    assert derived(engine, vehicle_id) == (trips, episodes, days)
    assert job.get_status(refresh=True) == "started"  # as the dead worker left it

    # RQ's maintenance (every worker runs it) hands back a started job whose heartbeat
    # has expired (90 s here) to be retried; the test runs it as of then, not waiting.
    queue = Queue("telemetry", connection=redis_queues)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    assert job.get_status(refresh=True) == "scheduled"  # retried after RETRY's interval
    restarted = worker(engine)
    try:
        wait_until(lambda: job.get_status(refresh=True) == "finished", what="the retry")
    finally:
        os.killpg(restarted.pid, signal.SIGTERM)
        restarted.wait(timeout=60)

    trips, episodes, days = derived(engine, vehicle_id)
    assert [(t.started_at, t.distance_m) for t in trips] == [
        (now - timedelta(minutes=120), 5_000),
        (now - timedelta(minutes=40), 5_000),
    ]
    assert all(t.ended_at is not None for t in trips)
    assert [e.started_at for e in episodes] == [now - timedelta(minutes=90)]
    with Session(engine) as session:
        span = rollups.km_on_day(session, imei, local_today())
    if span is not None:  # readings today (in Mexico City): today's km, once
        today = [km for day, km in days if day == local_today()]
        assert [float(km) for km in today] == [(span[1] - span[0]) / 1000]

    # And running it once more changes nothing.
    rollup_vehicle_job.delay(vehicle_id)
    assert worker(engine, "--burst").wait(timeout=120) == 0
    assert derived(engine, vehicle_id) == (trips, episodes, days)
