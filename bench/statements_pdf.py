"""Statement PDFs per second for one worker process, and its peak memory.

Seeds a scratch database (lafa_bench_statements) with the demo data set (12 weeks of
ledger history and closed statements; the seed's own time is printed too), then runs
`render_statement_pdf_job` (load, render with WeasyPrint, store with SHA-256, commit)
for last week's statement of N drivers in this one process. Baseline in the same run:
WeasyPrint rendering a trivial one-page HTML, so the ratio is our template's cost.
Target: at least 10 statements per second per worker process.

    python bench/statements_pdf.py [--drivers 2000]
"""

from __future__ import annotations

import argparse
import os
import resource
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
from portal.demo import seed_demo
from portal.models import Statement
from portal.timeutil import local_today, monday_of

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "lafa_bench_statements"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def rates(label: str, n: int, wall: float, cpu: float) -> float:
    each = wall / n * 1000
    print(f"{label:34} {n / wall:7.1f}/s wall   {n / cpu:7.1f}/s cpu   ({each:.0f} ms each)")
    return n / cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=2000)
    args = parser.parse_args()

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    upgrade_database(URL)
    os.environ.update(DATABASE_URL=URL, REDIS_URL="", LAFA_DEMO="1")
    from wsgi import app

    app.config["STATEMENTS_DIR"] = tempfile.mkdtemp(prefix="lafa-bench-statements-")
    engine = make_engine(URL)
    from sqlalchemy.orm import Session as OrmSession

    vehicles = int(args.drivers / 0.9) + 10
    t = time.perf_counter()
    with OrmSession(engine) as session:
        seed_demo(session, vehicles=vehicles)
        session.commit()
    print(
        f"seed_demo(vehicles={vehicles}) with 12 weeks of history: {time.perf_counter() - t:.1f} s"
    )

    from weasyprint import HTML

    from workers.ledger import render_statement_pdf_job
    from workers.statement_pdf import _fonts_and_css

    last_week = monday_of(local_today()) - timedelta(weeks=1)
    with app.app_context():
        ids = list(
            Session.scalars(
                select(Statement.id)
                .where(Statement.week_start == last_week)
                .order_by(Statement.id)
                .limit(args.drivers)
            )
        )
        Session.remove()
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
            f"statements ({n}, one process)", n, time.perf_counter() - t, time.process_time() - c
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"template cost vs baseline: {base / ours:.1f}x   target: >= 10 statements/s")
    print(f"peak RSS: {peak:.0f} MiB")
    engine.dispose()


if __name__ == "__main__":
    main()
