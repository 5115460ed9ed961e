"""The quarantine of refused telemetry is pruned daily: anyone can fill it."""

from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, SimpleWorker, cron
from sqlalchemy import select

from portal.models import TelemetryReject
from telemetry import store as ingest
from tests.servers import TEST_REDIS
from workers.telemetry import prune_telemetry_rejects_job


def _reject(db, days_ago):
    return ingest.record_reject(
        db,
        source="tcp",
        reason_code=ingest.RejectReason.UNKNOWN_IMEI,
        reason="unknown IMEI",
        payload=b"\x00\x0f356307042441013",
        imei="356307042441013",
        received_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


def test_the_job_forgets_rejects_older_than_the_kept_days(app, redis_queues, db):
    keep = app.config["TELEMETRY_REJECTS_KEEP_DAYS"]
    old, recent = _reject(db, keep + 1), _reject(db, keep - 1)
    db.flush()
    old_id, recent_id = old.id, recent.id
    prune_telemetry_rejects_job.delay()
    SimpleWorker([Queue("telemetry", connection=redis_queues)], connection=redis_queues).work(
        burst=True
    )
    db.expire_all()
    kept = set(db.scalars(select(TelemetryReject.id)))
    assert recent_id in kept
    assert old_id not in kept


def test_the_cron_config_prunes_them_every_night():
    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file("workers/cron.py")
    job = {job.name: job for job in scheduler.get_jobs()}["prune-rejects"]
    assert job.func is prune_telemetry_rejects_job
    assert job.cron == "45 3 * * *"
    assert job.queue_name == "telemetry"
