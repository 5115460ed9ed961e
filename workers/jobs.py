"""The job decorator: one place that gives every job a session, a commit and a log id."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from rq import get_current_job

from portal.db import Session

from .queues import enqueue

P = ParamSpec("P")
R = TypeVar("R")


def job(queue: str = "default", *, unique: bool = True) -> Callable[[Callable[P, R]], Any]:
    """Make `func` a job on `queue`: `func.delay(ids...)` enqueues it.

    Jobs take ids, never objects. The wrapper commits once when the job returns and
    rolls back if it raises, so a retried job starts from what was committed; every
    log line carries the job's id.
    """

    def decorate(func: Callable[P, R]) -> Any:
        logger = logging.getLogger(func.__module__)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            current = get_current_job()
            job_id = current.id if current else "in-process"
            logger.info("job %s: %s%r started", job_id, func.__name__, args)
            try:
                result = func(*args, **kwargs)
                Session.commit()
            except Exception:
                Session.rollback()
                logger.exception("job %s: %s failed", job_id, func.__name__)
                raise
            finally:
                Session.remove()
            logger.info("job %s: %s done", job_id, func.__name__)
            return result

        def delay(*args: Any, **kwargs: Any) -> Any:
            return enqueue(run, *args, queue=queue, unique=unique, **kwargs)

        run.delay = delay  # type: ignore[attr-defined]
        run.queue_name = queue  # type: ignore[attr-defined]
        return run

    return decorate
