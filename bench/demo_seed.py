"""How long `flask seed-demo` takes: the demo data set for 150 cars in a fresh database,
then the same seed again (idempotent: it must add nothing).

Seeds a scratch database (lafa_bench_seed) exactly as `flask seed-demo` does and prints,
for each run: wall time, this process's CPU time, the PostgreSQL backend's CPU time
(read from /proc, so the database must be on this machine) and the number of SQL
statements sent (round trips, which the shared machine's load does not change).

    python bench/demo_seed.py [--vehicles 150]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session as OrmSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine
from portal.demo.seed import seed_demo
from portal.models import LedgerEntry

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "lafa_bench_seed"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fresh_database() -> None:
    """An empty, migrated scratch database that the app will use."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    upgrade_database(URL)
    os.environ.update(DATABASE_URL=URL, REDIS_URL="", LAFA_DEMO="1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vehicles", type=int, default=150)
    vehicles = parser.parse_args().vehicles
    _fresh_database()
    from wsgi import app

    engine = make_engine(URL)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        statements[0] += 1

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    columns = ("wall s", "cpu s", "pg cpu s", "statements", "entries")
    print(f"{'run':10} " + " ".join(f"{c:>10}" for c in columns))
    with app.app_context():
        for label in ("first", "again"):
            with OrmSession(engine) as session:
                backend = session.scalar(text("SELECT pg_backend_pid()"))
                statements[0] = 0
                wall, cpu, pg = time.perf_counter(), _cpu(), _backend_cpu(backend)
                seed_demo(session, vehicles=vehicles)
                session.commit()
                wall, cpu = time.perf_counter() - wall, _cpu() - cpu
                pg = _backend_cpu(backend) - pg
                entries = session.scalar(select(func.count(LedgerEntry.id)))
            print(
                f"{label:10} {wall:10.1f} {cpu:10.1f} {pg:10.1f} {statements[0]:10,} {entries:10,}"
            )
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
