"""How fast is a driver's balance with 10,000 drivers and a year of weekly entries?

Builds a scratch database (lafa_bench_ledger): 10,000 drivers x 60 entries (a year of
weekly rent, energy and payments), VACUUM ANALYZE, then times `driver_balance` for
many drivers (p50/p99) against a `SELECT 1` round trip on the same connection, and
prints the EXPLAIN (ANALYZE, BUFFERS) plan. Target: under 5 ms.

    python bench/ledger_balance.py [--drivers 10000] [--entries 60] [--samples 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine, session_factory
from portal.services.ledger import driver_balance

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "lafa_bench_ledger"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def build(drivers: int, entries: int) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    upgrade_database(URL)
    start = datetime(2025, 11, 24, 6, tzinfo=UTC)
    rng = random.Random(7)
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        with conn.cursor().copy(
            "COPY drivers (id, first_name, last_name, curp, phone, platforms, status, created_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(1, drivers + 1):
                copy.write_row(
                    (i, "Conductor", "Prueba", f"BENC{i:014d}", "5500000000", "[]", "active", start)
                )
        with conn.cursor().copy(
            "COPY ledger_entries (driver_id, kind, amount_cents, posted_at, description,"
            " idempotency_key) FROM STDIN"
        ) as copy:
            for i in range(1, drivers + 1):
                for n in range(entries):
                    week, slot = divmod(n, 3)  # rent, energy, payment each week
                    at = start + timedelta(weeks=week, hours=slot * 30 + rng.randrange(5))
                    kind, cents = [
                        ("rent", 350_000),
                        ("energy", rng.randrange(5_000, 15_000)),
                        ("payment", -rng.randrange(340_000, 370_000)),
                    ][slot]
                    copy.write_row((i, kind, cents, at, "bench", f"b:{i}:{n}"))
        conn.commit()
    with psycopg.connect(URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ledger_entries")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=60)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args()

    t = time.perf_counter()
    build(args.drivers, args.entries)
    print(
        f"built {args.drivers:,} drivers x {args.entries} entries "
        f"= {args.drivers * args.entries:,} rows in {time.perf_counter() - t:.1f} s"
    )
    engine = make_engine(URL)
    session = session_factory(bind=engine)
    rng = random.Random(1)
    ids = [rng.randrange(1, args.drivers + 1) for _ in range(args.samples)]
    for driver_id in ids[:200]:  # warm the cache and the connection
        driver_balance(session, driver_id)

    def timed(fn) -> list[float]:
        out = []
        for driver_id in ids:
            t0 = time.perf_counter()
            fn(driver_id)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    baseline = timed(lambda _: session.execute(text("SELECT 1")).scalar())
    balance = timed(lambda driver_id: driver_balance(session, driver_id))
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    balance_as_of = timed(lambda driver_id: driver_balance(session, driver_id, as_of=as_of))
    for label, values in [
        ("SELECT 1 (baseline)", baseline),
        ("driver_balance", balance),
        ("driver_balance(as_of)", balance_as_of),
    ]:
        print(
            f"{label:24} p50 {statistics.median(values):6.3f} ms   "
            f"p99 {percentile(values, 0.99):6.3f} ms"
        )
    ratio = statistics.median(balance) / statistics.median(baseline)
    print(f"balance / SELECT 1 (p50): {ratio:.2f}x   target: p99 < 5 ms")
    plan = session.execute(
        text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT coalesce(sum(amount_cents), 0) "
            "FROM ledger_entries WHERE driver_id = :d"
        ),
        {"d": ids[0]},
    ).scalars()
    print("\n".join(plan))
    session.close()
    engine.dispose()


if __name__ == "__main__":
    main()
