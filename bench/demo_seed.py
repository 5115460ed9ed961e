"""How long `flask seed-demo` takes: the demo data set for 150 cars in a fresh database,
then the same seed again (idempotent: it must add nothing but what time has added).

Baseline, measured in the same run: the same first seed without the history's week of
telemetry (`telemetry_days=0`: everything else, the world's charges and km included), in
a fresh database of its own. The figures of the full seed are printed against it, so a
loaded machine shows up in both. For each run: wall time, this process's CPU time, the
PostgreSQL backend's CPU time (read from /proc, so the database must be on this machine),
the number of SQL statements sent (round trips, which the machine's load does not
change) and the telemetry readings stored.

    python bench/demo_seed.py [--vehicles 150] [--database lafa_bench_seed]
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
from portal.models import LedgerEntry, TelemetryReading

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "lafa_bench_seed"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def _use_database(name: str) -> None:
    global NAME, URL
    NAME, URL = name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


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
    # A scratch database: the development defaults are fine.
    os.environ.update(DATABASE_URL=URL, REDIS_URL="", LAFA_DEMO="1", LAFA_ENV="development")


def _seed(vehicles: int, telemetry_days: int | None) -> tuple[float, ...]:
    """One seed into the scratch database: (wall, cpu, pg cpu, statements, entries, readings)."""
    engine = make_engine(URL)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        statements[0] += 1

    with OrmSession(engine) as session:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
        wall, cpu, pg = time.perf_counter(), _cpu(), _backend_cpu(backend)
        if telemetry_days is None:
            seed_demo(session, vehicles=vehicles)
        else:
            seed_demo(session, vehicles=vehicles, telemetry_days=telemetry_days)
        session.commit()
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        pg = _backend_cpu(backend) - pg
        entries = session.scalar(select(func.count(LedgerEntry.id))) or 0
        readings = session.scalar(select(func.count()).select_from(TelemetryReading)) or 0
    engine.dispose()
    return wall, cpu, pg, statements[0], entries, readings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vehicles", type=int, default=150)
    parser.add_argument("--database", default=NAME, help="the scratch database (dropped)")
    args = parser.parse_args()
    vehicles = args.vehicles
    _use_database(args.database)
    _fresh_database()
    from wsgi import app

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    columns = ("wall s", "cpu s", "pg cpu s", "statements", "entries", "readings")
    print(f"{'run':28} " + " ".join(f"{c:>10}" for c in columns))

    def show(label: str, figures: tuple[float, ...], against: tuple[float, ...] | None) -> None:
        wall, cpu, pg, statements, entries, readings = figures
        row = f"{label:28} {wall:10.1f} {cpu:10.1f} {pg:10.1f} {statements:10,.0f}"
        row += f" {entries:10,.0f} {readings:10,.0f}"
        if against is not None:
            ratios = [
                f / b if b else float("nan") for f, b in zip(figures[:3], against[:3], strict=True)
            ]
            row += "   x" + " x".join(f"{r:.2f}" for r in ratios) + " (wall, cpu, pg)"
        print(row)

    with app.app_context():
        baseline = _seed(vehicles, telemetry_days=0)
        show("baseline: no telemetry", baseline, None)
        _fresh_database()
        first = _seed(vehicles, telemetry_days=None)
        show("first seed", first, baseline)
        again = _seed(vehicles, telemetry_days=None)
        show("again (nothing to add)", again, baseline)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
