"""The manager's KPI dashboard at 2,000 cars with a year of history: every panel timed.

Builds a throw-away database with `seed_demo(session, vehicles=2000)`, then adds a year
of the high-volume history the demo does not generate, in bulk SQL (benchmark data
only, never the demo): kilometres per car per day (2,000 x 365 rows), a charging
session every other day per car (~365,000 sessions), and a year of weekly rent and
payments per active contract. Then times each panel function of `portal.services.kpis`
for this week, this month and a whole year (median of 5 runs after a warm-up), against
baselines measured in the same run: the energy page's per-row query
(`charging_board.energy_by_depot_day`) and the collections list's first page
(`collections.list_collections`). Run: `python bench/dashboard.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine
from portal.demo import seed_demo
from portal.services import kpis
from portal.services.charging_board import energy_by_depot_day
from portal.services.collections import list_collections
from portal.timeutil import local_today, monday_of

ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
VEHICLES = 2_000
ZONE = ZoneInfo("America/Mexico_City")

HISTORY_SQL = [
    # km per car per day: a year, 0 to 250 km (some days parked).
    """
    INSERT INTO vehicle_daily_km (vehicle_id, day, km, first_odometer_m, last_odometer_m)
    SELECT v.id, d::date, k.km, 0, (k.km * 1000)::bigint
    FROM vehicles v
    CROSS JOIN generate_series(:today - 364, :today, interval '1 day') AS d
    CROSS JOIN LATERAL (SELECT round((random() * 250)::numeric, 1) AS km) AS k
    WHERE v.status <> 'retired'
    ON CONFLICT DO NOTHING
    """,
    # A session every other day per car at its depot's chargers, 30 min to 4 h.
    """
    INSERT INTO charging_sessions (charger_id, connector_id, evse_id, transaction_id,
        vehicle_id, status, started_at, stopped_at, meter_start_wh, meter_stop_wh,
        energy_wh, price_per_kwh_cents, cost_cents, created_at)
    SELECT c.charger_id, c.connector_id, c.evse_id, 'bench-' || v.id || '-' || n,
        v.id, 'completed', t.started, t.started + t.dur, 0, t.wh, t.wh, 400,
        (t.wh * 400 / 1000), t.started
    FROM vehicles v
    CROSS JOIN generate_series(0, 182) AS n
    CROSS JOIN LATERAL (
        SELECT cc.charger_id, cc.id AS connector_id, cc.evse_id
        FROM charger_connectors cc JOIN chargers ch ON ch.id = cc.charger_id
        WHERE ch.depot_id = v.depot_id
        ORDER BY cc.id OFFSET (v.id + n) % 4 LIMIT 1
    ) AS c
    CROSS JOIN LATERAL (
        SELECT (:today - 2 * n)::timestamp AT TIME ZONE 'America/Mexico_City'
                   + (v.id % 24) * interval '1 hour' AS started,
               interval '30 minutes' * (1 + (v.id + n) % 8) AS dur,
               (10000 + ((v.id * 7 + n) % 40) * 1000)::bigint AS wh
    ) AS t
    WHERE v.status <> 'retired'
    """,
    # A year of weekly rent, and payments (most weeks) per active contract.
    """
    INSERT INTO ledger_entries (driver_id, contract_id, kind, amount_cents, posted_at,
        description, idempotency_key)
    SELECT k.driver_id, k.id, 'rent', k.weekly_rent_cents,
        (:monday - 7 * w)::timestamp AT TIME ZONE 'America/Mexico_City',
        'Renta (bench)', 'bench-rent:' || k.id || ':' || w
    FROM contracts k CROSS JOIN generate_series(20, 71) AS w
    WHERE k.status = 'active'
    """,
    """
    INSERT INTO ledger_entries (driver_id, contract_id, kind, amount_cents, posted_at,
        description, idempotency_key)
    SELECT k.driver_id, k.id, 'payment', -k.weekly_rent_cents,
        (:monday - 7 * w + 2)::timestamp AT TIME ZONE 'America/Mexico_City',
        'Pago (bench)', 'bench-pay:' || k.id || ':' || w
    FROM contracts k CROSS JOIN generate_series(20, 71) AS w
    WHERE k.status = 'active' AND (k.id + w) % 9 <> 0
    """,
]


def build(url: str, today: date) -> dict[str, int]:
    upgrade_database(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as s:
        seed_demo(s, vehicles=VEHICLES, today=today)
        s.commit()
    print(f"seed_demo({VEHICLES}): {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    with Session(engine) as s:
        for sql in HISTORY_SQL:
            s.execute(text(sql), {"today": today, "monday": monday_of(today)})
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
        counts = {
            table: int(s.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608
            for table in (
                "vehicles",
                "vehicle_daily_km",
                "charging_sessions",
                "ledger_entries",
                "bookings",
                "incidents",
                "credit_applications",
            )
        }
    print(f"history: {time.perf_counter() - t0:.0f} s", flush=True)
    engine.dispose()
    return counts


def median_ms(fn: Callable[[], object], runs: int = 5) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    # BENCH_KEEP_DB=<name>: build that database once and keep it (to iterate on queries).
    keep = os.environ.get("BENCH_KEEP_DB")
    name = keep or f"lafa_bench_dashboard_{os.getpid()}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    today = local_today()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        if not exists:
            counts = build(url, today)
            print("rows:", ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        engine = make_engine(url)
        periods = {
            "week": (monday_of(today), today),
            "month": (today.replace(day=1), today),
            "year": (today - timedelta(days=365), today),
        }
        panels = {
            "fleet utilization": kpis.fleet_utilization,
            "km per car per day": kpis.km_per_car,
            "collections": kpis.collections_summary,
            "energy": kpis.energy,
            "charging": kpis.charging,
            "incidents": kpis.incidents,
            "credit": kpis.credit,
        }
        with Session(engine) as s:
            depot_id = int(s.scalar(text("SELECT min(id) FROM depots")) or 0)
            base_energy = median_ms(lambda: energy_by_depot_day(s, today=today, days=31, zone=ZONE))
            base_collections = median_ms(lambda: list_collections(s, today))
            print(f"baseline energy_by_depot_day(31 days): {base_energy:.1f} ms")
            print(f"baseline list_collections(page 1): {base_collections:.1f} ms")
            print(f"{'panel':22} {'week':>9} {'month':>9} {'year':>9} {'month, 1 depot':>15}")
            worst = 0.0
            for label, fn in panels.items():
                row = []
                for start, end in periods.values():
                    row.append(median_ms(lambda fn=fn, a=start, b=end: fn(s, a, b, None)))
                month = periods["month"]
                row.append(median_ms(lambda fn=fn, a=month[0], b=month[1]: fn(s, a, b, depot_id)))
                worst = max(worst, row[1], row[3])
                print(
                    f"{label:22} " + " ".join(f"{ms:9.1f}" for ms in row[:3]) + f" {row[3]:15.1f}"
                )
            month_energy = median_ms(lambda: kpis.energy(s, *periods["month"], None))
            print(
                f"energy panel (month) vs energy_by_depot_day(31 days): "
                f"{month_energy:.1f} / {base_energy:.1f} ms = {month_energy / base_energy:.2f}x"
            )
            month_coll = median_ms(lambda: kpis.collections_summary(s, *periods["month"], None))
            print(
                f"collections panel (month) vs list_collections page 1: "
                f"{month_coll:.1f} / {base_collections:.1f} ms = "
                f"{month_coll / base_collections:.2f}x"
            )
            print(f"slowest panel, month: {worst:.1f} ms (budget 200 ms)")
        engine.dispose()
    finally:
        if not keep:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
