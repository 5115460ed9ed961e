"""The dashboard's rollup job on a real Redis and RQ worker, and its schedule."""

from datetime import timedelta
from decimal import Decimal

from redis import Redis
from rq import Queue, SimpleWorker, cron

from portal.models import VehicleDailyKm
from portal.services.kpis.credit import early_delinquency
from portal.services.kpis.daily import daily_figures, rollup_state
from portal.timeutil import local_today
from tests.servers import TEST_REDIS
from workers.kpis import refresh_kpis_job


def test_the_rollup_job_rolls_up_the_closed_days_and_is_idempotent(
    redis_queues, db, make_vehicle, make_contract
):
    today = local_today()
    vehicle = make_vehicle()
    make_contract(vehicle=make_vehicle(), starts_on=today - timedelta(weeks=30))
    for n in range(1, 4):
        db.add(
            VehicleDailyKm(
                vehicle_id=vehicle.id,
                day=today - timedelta(days=n),
                km=Decimal("50.5"),
                first_odometer_m=0,
                last_odometer_m=1,
            )
        )
    db.flush()

    for _ in range(2):
        refresh_kpis_job.delay()
        SimpleWorker([Queue("default", connection=redis_queues)], connection=redis_queues).work(
            burst=True
        )

    state = rollup_state(db)
    assert state.last_day == today - timedelta(days=1)
    days = daily_figures(db, today - timedelta(days=3), today, None)
    assert days.live_days == 1  # only today
    assert days.total().km == Decimal("151.5")
    assert early_delinquency(db, today, None).computed_at is not None


def test_the_cron_config_runs_the_rollup_nightly():
    from workers.cron import __file__ as config_path

    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file(config_path)
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs["kpi-rollup"].cron == "30 1 * * *"
    assert jobs["kpi-rollup"].func is refresh_kpis_job
    assert jobs["kpi-rollup"].queue_name == "default"


def _km(vehicle_id, day, km):
    return VehicleDailyKm(
        vehicle_id=vehicle_id, day=day, km=Decimal(km), first_odometer_m=0, last_odometer_m=1
    )


def test_flask_kpi_rollup_recomputes_from_a_date(app, db, make_vehicle):
    today = local_today()
    vehicle = make_vehicle()
    old = today - timedelta(days=40)
    db.add(_km(vehicle.id, old - timedelta(days=5), "10"))  # the history starts here
    db.flush()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kpi-rollup"])
    assert result.exit_code == 0, result.output
    assert f"KPI rollup: {(today - old).days + 5} days" in result.output
    # A day corrected after it was rolled up, older than the nightly recheck: the
    # nightly run keeps the stale figure, --since recomputes it.
    db.add(_km(vehicle.id, old, "80"))
    db.flush()
    runner.invoke(args=["kpi-rollup"])
    assert daily_figures(db, old, old, None).total().km == 0

    result = runner.invoke(args=["kpi-rollup", "--since", old.isoformat()])

    assert result.exit_code == 0, result.output
    assert f"KPI rollup: {(today - old).days} days" in result.output
    days = daily_figures(db, old, old, None)
    assert days.live_days == 0
    assert days.total().km == Decimal("80")
