"""The manager's KPI dashboard at 2,000 cars with a year of history: every panel timed.

Builds a throw-away database with `seed_demo(session, vehicles=2000)`, then adds a year
of the high-volume history in bulk SQL (benchmark data only, never the demo):
kilometres per car per day (2,000 x 365 rows), a charging session every other day per
car (~365,000 sessions), and a year of weekly rent and payments per active contract.
Then:

- times the rollup: a full rebuild of the year (`refresh_kpi_days` from the first day of
  history, plus every contract's outcome) and the nightly refresh (`refresh_rollups`);
- checks that every panel from the rollup + the open day equals the all-live panel;
- times each panel function of `portal.services.kpis` as the page reads it (closed days
  from the rollup, the open day live) against the same panel all live (the baseline,
  what the dashboard did before the rollup), for this week, this month, a year, and a
  year of one depot (median of 5 runs after a warm-up, wall clock: the work is in
  PostgreSQL);
- times the whole page's reads (one `daily_figures` shared by the panels, as the view
  does) and the early delinquency by cohort (stored outcomes against live).

Run: `python bench/dashboard.py` (`BENCH_KEEP_DB=<name>` keeps the database).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine
from portal.demo.seed import seed_demo
from portal.models import Driver
from portal.services import balances
from portal.services.collections import list_collections
from portal.services.kpis.charging import charging_panel
from portal.services.kpis.collections import collections_summary
from portal.services.kpis.credit import credit_panel, early_delinquency, refresh_contract_outcomes
from portal.services.kpis.daily import (
    PANEL_PARTS,
    daily_figures,
    first_history_day,
    refresh_kpi_days,
    refresh_rollups,
)
from portal.services.kpis.energy import energy_panel
from portal.services.kpis.fleet import fleet_utilization
from portal.services.kpis.incidents import incidents_panel
from portal.services.kpis.km import km_per_car
from portal.timeutil import local_today, monday_of

ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
VEHICLES = 2_000

HISTORY_SQL = [
    # km per car per day: a year, 0 to 250 km (some days parked).
    """
    INSERT INTO vehicle_daily_km (vehicle_id, day, km, first_odometer_m, last_odometer_m)
    SELECT v.id, d::date, k.km, 0, (k.km * 1000)::bigint
    FROM vehicles v
    CROSS JOIN generate_series(:today - 364, :today, interval '1 day') AS d
    CROSS JOIN LATERAL (SELECT round((random() * 250)::numeric, 1) AS km) AS k
    WHERE v.status NOT IN ('transferred', 'sold', 'written_off')
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
    WHERE v.status NOT IN ('transferred', 'sold', 'written_off')
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
        # The bulk SQL bypasses the posting functions: bring every driver's account
        # summary up to date as they would have.
        t1 = time.perf_counter()
        balances.refresh(s, s.scalars(select(Driver.id)))
        print(f"account summaries of every driver: {time.perf_counter() - t1:.1f} s")
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


def timed_s(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def collections_against_live(
    s: Session, periods: dict[str, tuple[date, date, bool]], depot_id: int, today: date
) -> None:
    """The collections panel and the staff list's first page from the account summary
    against the same from the live statement over the ledger (the previous code)."""
    print("collections, account summary / live statement (ms):")
    for label, (start, end, one) in periods.items():
        dep = depot_id if one else None
        summary = collections_summary(s, start, end, dep)
        assert summary == collections_summary(s, start, end, dep, live=True), label
        fast = median_ms(lambda a=start, b=end, d=dep: collections_summary(s, a, b, d))
        slow = median_ms(lambda a=start, b=end, d=dep: collections_summary(s, a, b, d, live=True))
        print(f"  panel, {label}: {fast:.1f} / {slow:.1f} ({slow / fast:.1f}x)")
    page = list_collections(s, today, per_page=25)
    assert page == list_collections(s, today, per_page=25, live=True)
    fast = median_ms(lambda: list_collections(s, today, per_page=25))
    slow = median_ms(lambda: list_collections(s, today, per_page=25, live=True))
    print(
        f"  /operacion/cobranza first page ({page.total:,} owing): {fast:.1f} / {slow:.1f}"
        f" ({slow / fast:.1f}x)"
    )


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
        upgrade_database(url)
        engine = make_engine(url)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        with Session(engine) as s:
            first = first_history_day(s) or today
            rebuild = timed_s(lambda: refresh_kpi_days(s, first, today, today))
            outcomes = timed_s(lambda: refresh_contract_outcomes(s, today))
            s.commit()
            nightly = timed_s(lambda: refresh_rollups(s, today))
            s.commit()
            rows = s.scalar(text("SELECT count(*) FROM kpi_daily"))
            print(
                f"rollup: full rebuild of {(today - first).days} days {rebuild:.1f} s"
                f" ({rows:,} rows), contract outcomes {outcomes:.1f} s,"
                f" nightly refresh (last 7 days + outcomes) {nightly:.1f} s"
            )
        periods = {
            "week": (monday_of(today), today, False),
            "month": (today.replace(day=1), today, False),
            "year": (today - timedelta(days=365), today, False),
            "year, 1 depot": (today - timedelta(days=365), today, True),
        }
        panels = {
            "fleet": fleet_utilization,
            "km": km_per_car,
            "collections": collections_summary,
            "energy": energy_panel,
            "charging": charging_panel,
        }
        others = {"incidents": incidents_panel, "credit": credit_panel}
        with Session(engine) as s:
            depot_id = int(s.scalar(text("SELECT min(id) FROM depots")) or 0)
            for label, fn in panels.items():
                for start, end, one in periods.values():
                    dep = depot_id if one else None
                    live = daily_figures(s, start, end, dep, use_rollup=False)
                    assert fn(s, start, end, dep) == fn(s, start, end, dep, live), label
            print("rollup + open day == all live: every panel, every period")
            head = " ".join(f"{p:>21}" for p in periods)
            print(f"{'panel (ms: rollup / all live)':30} {head}")
            worst = 0.0
            for label, fn in panels.items():
                cells = []
                for start, end, one in periods.values():
                    dep = depot_id if one else None
                    parts = PANEL_PARTS[label]
                    # All live: for collections also the overdue statement over the ledger.
                    kw = {"live": True} if label == "collections" else {}
                    fast = median_ms(lambda fn=fn, a=start, b=end, d=dep: fn(s, a, b, d))
                    slow = median_ms(
                        lambda fn=fn, a=start, b=end, d=dep, p=parts, kw=kw: fn(
                            s, a, b, d, daily_figures(s, a, b, d, p, use_rollup=False), **kw
                        )
                    )
                    worst = max(worst, fast)
                    cells.append(f"{fast:7.1f} / {slow:7.1f} {slow / fast:4.1f}x")
                print(f"{label:30} " + " ".join(f"{c:>21}" for c in cells))
            for label, fn in others.items():
                cells = []
                for start, end, one in periods.values():
                    dep = depot_id if one else None
                    fast = median_ms(lambda fn=fn, a=start, b=end, d=dep: fn(s, a, b, d))
                    worst = max(worst, fast)
                    cells.append(f"{fast:7.1f} (live)")
                print(f"{label:30} " + " ".join(f"{c:>21}" for c in cells))
            stored = median_ms(lambda: early_delinquency(s, today, None))
            worst = max(worst, stored)
            s.execute(text("SAVEPOINT live"))
            s.execute(text("DELETE FROM kpi_contract_outcomes"))
            live_cohorts = median_ms(lambda: early_delinquency(s, today, None), runs=3)
            s.execute(text("ROLLBACK TO SAVEPOINT live"))
            print(
                f"early delinquency by cohort: {stored:.1f} ms stored outcomes,"
                f" {live_cohorts:.1f} ms live ({live_cohorts / stored:.0f}x)"
            )

            def page(a: date, b: date, d: int | None, use_rollup: bool = True) -> None:
                days = daily_figures(s, a, b, d, use_rollup=use_rollup)
                for fn in panels.values():
                    fn(s, a, b, d, days)
                for fn in others.values():
                    fn(s, a, b, d)
                early_delinquency(s, b, d)

            for label, (start, end, one) in periods.items():
                dep = depot_id if one else None
                fast = median_ms(lambda a=start, b=end, d=dep: page(a, b, d))
                slow = median_ms(lambda a=start, b=end, d=dep: page(a, b, d, False))
                print(
                    f"whole page, {label}: {fast:.1f} ms with the rollup,"
                    f" {slow:.1f} ms all live ({slow / fast:.1f}x)"
                )
            print(f"slowest panel with the rollup: {worst:.1f} ms (budget 200 ms)")
            collections_against_live(s, periods, depot_id, today)
            print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        engine.dispose()
    finally:
        if not keep:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
