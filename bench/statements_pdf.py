"""Statement PDFs per second for one worker process, in CPU time, and peak memory.

Seeds a scratch database (lafa_bench_statements) with the demo data set (12 weeks of
ledger history and closed statements; the seed's own time is printed too), then runs
`render_statement_pdf_job` (load, render with WeasyPrint, store with SHA-256, commit)
for last week's statements:

1. in this process, N of them, after a baseline measured in the same run: WeasyPrint
   rendering a trivial one-page HTML, so the ratio is our template's cost;
2. through Redis and a real RQ worker on the `statements` queue, as `flask worker
   statements` runs it (`workers.queues.worker_class`: no fork), and the forking
   `Worker` every other queue uses, for comparison. Each worker runs in a child process
   twice, with W and 2W jobs; the difference is the per-job CPU time of the worker's
   processes (its start-up and imports cancel out).

Target: at least 10 statements per second per worker process, CPU time. The machine
is shared: the load average is printed before and after.

    python bench/statements_pdf.py [--drivers 300] [--worker-jobs 40]
        [--redis redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import Session, make_engine
from portal.demo.seed import seed_demo
from portal.models import Statement
from portal.timeutil import local_today, monday_of

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "lafa_bench_statements"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def rates(label: str, n: int, wall: float, cpu: float) -> float:
    print(
        f"{label:44} {n / wall:6.1f}/s wall  {n / cpu:6.1f}/s cpu  "
        f"({cpu / n * 1000:.0f} ms cpu each)"
    )
    return n / cpu


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def peak_rss() -> float:
    """This process's peak resident memory in MiB (since the last `reset_peak_rss`)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def last_week_ids(limit: int) -> list[int]:
    last_week = monday_of(local_today()) - timedelta(weeks=1)
    ids = list(
        Session.scalars(
            select(Statement.id)
            .where(Statement.week_start == last_week)
            .order_by(Statement.id)
            .limit(limit)
        )
    )
    Session.remove()
    return ids


def run_worker(kind: str, jobs: int) -> None:
    """Child process: queue `jobs` statement PDFs, then work them off with a burst worker."""
    from rq import Worker

    from workers.ledger import render_statement_pdf_job
    from workers.queues import get_queue, redis_connection, worker_class
    from wsgi import app

    with app.app_context():
        queue = get_queue("statements")
        queue.empty()
        for statement_id in last_week_ids(jobs):
            queue.enqueue(render_statement_pdf_job, statement_id, True)
        cls = worker_class(["statements"]) if kind == "statements" else Worker
        gc.freeze()  # as `flask worker` does
        t, c = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        cls([queue], connection=redis_connection()).work(burst=True, logging_level="WARNING")
        wall = time.perf_counter() - t
        # Queueing is not the worker's work: only from here on counts (self + horses).
        end, horses = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        cpu = (end.ru_utime - c.ru_utime) + (end.ru_stime - c.ru_stime)
        cpu += horses.ru_utime + horses.ru_stime
        # ru_maxrss survives exec (it would be the bench's own peak): the kernel's VmHWM
        # is this process's; a forked horse's peak counts the pages it shares.
        maxrss = max(peak_rss(), horses.ru_maxrss / 1024 if kind == "forking" else 0)
        failed = len(queue.failed_job_registry)
        print(f"{wall} {cpu} {maxrss} {failed}")


def worker_rate(kind: str, label: str, jobs: int) -> float:
    runs = []
    for n in (jobs, 2 * jobs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--worker-jobs", str(n)],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        ).stdout.split()
        wall, cpu, maxrss, failed = float(out[0]), float(out[1]), float(out[2]), int(out[3])
        if failed:
            raise SystemExit(f"{failed} statement PDF jobs failed in the {kind} worker")
        runs.append((wall, cpu, maxrss))
    (wall1, cpu1, _), (wall2, cpu2, rss) = runs
    rate = rates(label, jobs, wall2 - wall1, cpu2 - cpu1)
    print(f"{'':44} peak RSS of the worker's processes: {rss:.0f} MiB")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=300)
    parser.add_argument("--worker-jobs", type=int, default=40)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    # A scratch database: the development defaults are fine.
    os.environ.update(DATABASE_URL=URL, REDIS_URL=args.redis, LAFA_DEMO="1", LAFA_ENV="development")
    if args.child:
        run_worker(args.child, args.worker_jobs)
        return
    os.environ["LAFA_STATEMENTS_DIR"] = tempfile.mkdtemp(prefix="lafa-bench-statements-")
    print(f"load average before: {load()}")

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    upgrade_database(URL)
    from wsgi import app

    engine = make_engine(URL)
    from sqlalchemy.orm import Session as OrmSession

    vehicles = max(int(args.drivers / 0.9), 2 * args.worker_jobs) + 10
    t = time.perf_counter()
    with OrmSession(engine) as session:
        seed_demo(session, vehicles=vehicles)
        session.commit()
    print(
        f"seed_demo(vehicles={vehicles}) with 12 weeks of history: {time.perf_counter() - t:.1f} s"
    )

    reset_peak_rss()  # the seed's memory is not the worker's
    from weasyprint import HTML

    from workers.ledger import render_statement_pdf_job
    from workers.statement_pdf import _fonts_and_css

    with app.app_context():
        ids = last_week_ids(args.drivers)
        n = len(ids)
        fonts, _css = _fonts_and_css()
        HTML(string="<p>x</p>").write_pdf(font_config=fonts)  # warm up
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            HTML(string="<h1>Estado de cuenta</h1><p>Hola</p>").write_pdf(font_config=fonts)
        base = rates(
            "baseline: trivial one-page PDF", n, time.perf_counter() - t, time.process_time() - c
        )

        render_statement_pdf_job(ids[0], True)  # warm up (fonts, CSS, templates)
        t, c = time.perf_counter(), time.process_time()
        for statement_id in ids:
            render_statement_pdf_job(statement_id, True)
        ours = rates(
            f"statements in this process ({n})", n, time.perf_counter() - t, time.process_time() - c
        )
    print(f"{'':44} {base / ours:.1f}x the baseline's CPU per document")
    print(f"{'':44} peak RSS of this process after the seed: {peak_rss():.0f} MiB")
    engine.dispose()

    jobs = args.worker_jobs
    worker = worker_rate("statements", f"`flask worker statements` ({jobs} jobs)", jobs)
    worker_rate("forking", f"forking rq Worker, for comparison ({jobs})", jobs)
    print(f"load average after: {load()}")
    verdict = "met" if worker >= 10 else "NOT met"
    print(f"target >= 10 statements/s per worker process (cpu): {verdict} ({worker:.1f}/s)")


if __name__ == "__main__":
    main()
