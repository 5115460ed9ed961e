"""RQ's connection, the named queues, and `enqueue`.

Jobs go to their named queue in Redis and an `rq worker` (started by `flask worker`,
so it has the app's settings) runs them. With an empty REDIS_URL (the tests' app)
they run in a background thread of the calling process instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from portal.db import session_factory

log = logging.getLogger(__name__)

QUEUES = ("default", "statements", "telemetry", "ocpp", "scoring")
RETRY = Retry(max=3, interval=[10, 60, 300])

_redis_url: str = ""
_in_process = ThreadPoolExecutor(max_workers=2, thread_name_prefix="job")
_app_factory: Callable[[], Any] | None = None


def configure(redis_url: str, app_factory: Callable[[], Any] | None = None) -> None:
    """Point enqueueing at Redis, or (empty URL) at the in-process pool."""
    global _redis_url, _app_factory
    _redis_url = redis_url
    _app_factory = app_factory


def redis_connection() -> Redis:
    if not _redis_url:
        raise RuntimeError("Redis is not configured")
    return Redis.from_url(_redis_url)


def worker_class(names: Sequence[str]) -> type[Worker] | type[SimpleWorker]:
    """RQ's forking `Worker`, or for a worker on `statements` alone one that runs its jobs
    in its own process.

    A statement PDF is CPU work for a WeasyPrint that is warm after the first one (fonts,
    the parsed stylesheet, Pango's and the templates' caches); a horse forked for each
    job starts cold every time, ~3 PDFs/s per worker instead of ~10 (docs/benchmarks.md).
    """
    return SimpleWorker if set(names) == {"statements"} else Worker


def get_queue(name: str) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())


def unique_job_id(func_name: str, args: tuple[Any, ...]) -> str:
    digest = hashlib.sha256(repr((func_name, args)).encode()).hexdigest()[:16]
    return f"{func_name.rsplit('.', 1)[-1]}-{digest}"


def enqueue(
    func: Callable[..., Any], *args: Any, queue: str = "default", unique: bool = False, **kw: Any
) -> Job | Future[Any]:
    """Queue `func(*args)`. With `unique`, a job already waiting or running is reused."""
    if not _redis_url:
        return _in_process.submit(_run_in_process, func, args, kw)
    q = get_queue(queue)
    job_id = None
    if unique:
        job_id = unique_job_id(f"{func.__module__}.{func.__qualname__}", args)
        existing = Job.fetch(job_id, connection=q.connection) if _job_exists(q, job_id) else None
        if existing is not None and existing.get_status(refresh=False) in {
            JobStatus.QUEUED,
            JobStatus.STARTED,
            JobStatus.SCHEDULED,
            JobStatus.DEFERRED,
        }:
            return existing
    return q.enqueue(func, *args, job_id=job_id, retry=RETRY, **kw)


def _job_exists(q: Queue, job_id: str) -> bool:
    return bool(q.connection.exists(Job.key_for(job_id)))


def _run_in_process(func: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    if _app_factory is None:
        return func(*args, **kw)
    with _app_factory().app_context():
        return func(*args, **kw)


AFTER_COMMIT = "after_commit"


def after_commit(session: OrmSession, func: Callable[..., Any], *args: Any) -> None:
    """Call `func(*args)` once `session` commits; forgotten if the session rolls back."""
    if not session.in_transaction():
        session.begin()  # so a rollback before any statement forgets the call too
    session.info.setdefault(AFTER_COMMIT, []).append((func, args))


def enqueue_after_commit(session: OrmSession, job: Any, *args: Any) -> None:
    """Queue `job.delay(*args)` once `session` commits (the job then sees what it needs);
    forgotten if the session rolls back. A job is never queued for work not yet saved."""
    after_commit(session, job.delay, *args)


@event.listens_for(session_factory, "after_commit")
def _call_committed(session: OrmSession) -> None:
    for func, args in session.info.pop(AFTER_COMMIT, []):
        func(*args)


@event.listens_for(session_factory, "after_soft_rollback")
def _forget_rolled_back(session: OrmSession, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(AFTER_COMMIT, None)
