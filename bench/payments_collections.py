"""Collections at 2,000 drivers: the list from the account summary against the live
statement and the per-driver baseline.

Builds a throw-away database with 2,000 drivers and 12 weeks of rent and payments each
(~36,000 ledger entries) and their account summaries (`driver_balances`, as posting
keeps them), then times `list_collections` reading the summary against the same list
computed live from the ledger (`live=True`: aggregate + newest-first walk, the previous
code) and against the obvious N+1 (`driver_balance` and `days_past_due` per driver,
then sort in Python). Run: `python bench/payments_collections.py`.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine
from portal.models import (
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    LedgerEntry,
    Vehicle,
)
from portal.services import balances
from portal.services.collections import list_collections
from portal.services.ledger import days_past_due, driver_balance

ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DRIVERS = 2_000
WEEKS = 12


def build(url: str) -> None:
    upgrade_database(url)
    engine = make_engine(url)
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(weeks=WEEKS)
    with Session(engine) as s:
        depots = [
            Depot(code=f"B{i}", name=f"Depósito {i}", address="CDMX", site_power_kw=Decimal(300))
            for i in range(3)
        ]
        s.add_all(depots)
        s.flush()
        s.execute(
            insert(Driver),
            [
                {
                    "first_name": f"Nombre{i}",
                    "last_name": "Prueba",
                    "curp": f"BENC{i:06d}HDFXXX00"[:18],
                    "phone": f"55{i:08d}",
                    "status": "active",
                    "platforms": [],
                }
                for i in range(DRIVERS)
            ],
        )
        driver_ids = s.scalars(select(Driver.id).order_by(Driver.id)).all()
        s.execute(
            insert(Vehicle),
            [
                {
                    "vin": f"BENCH{i:012d}",
                    "plate": f"B{i:06d}",
                    "make": "BYD",
                    "model": "Dolphin Mini",
                    "year": 2025,
                    "battery_kwh": Decimal("38.8"),
                    "range_km": 380,
                    "connector_type": ConnectorType.CCS2,
                    "depot_id": depots[i % 3].id,
                    "status": "leased",
                }
                for i in range(DRIVERS)
            ],
        )
        vehicle_ids = s.scalars(select(Vehicle.id).order_by(Vehicle.id)).all()
        s.execute(
            insert(Contract),
            [
                {
                    "number": f"BENCH-{i:05d}",
                    "driver_id": d,
                    "vehicle_id": v,
                    "weekly_rent_cents": 350_000,
                    "term_weeks": 156,
                    "grace_days": 2,
                    "starts_on": start.date(),
                    "status": ContractStatus.ACTIVE,
                }
                for i, (d, v) in enumerate(zip(driver_ids, vehicle_ids, strict=True))
            ],
        )
        entries = []
        for d in driver_ids:
            reliability = rng.random()
            for w in range(WEEKS):
                monday = start + timedelta(weeks=w)
                entries.append(
                    {
                        "driver_id": d,
                        "kind": "rent",
                        "amount_cents": 350_000,
                        "posted_at": monday,
                        "description": "Renta semanal",
                        "idempotency_key": f"rent:{d}:{w}",
                    }
                )
                if rng.random() < reliability:
                    entries.append(
                        {
                            "driver_id": d,
                            "kind": "payment",
                            "amount_cents": -350_000,
                            "posted_at": monday + timedelta(days=rng.randrange(0, 6)),
                            "description": "Pago",
                            "idempotency_key": f"pay:{d}:{w}",
                        }
                    )
        s.execute(insert(LedgerEntry), entries)
        # Bulk benchmark data bypasses the posting functions: summarise as they would.
        t = time.perf_counter()
        balances.refresh(s, driver_ids)
        print(f"account summaries of {len(driver_ids):,} drivers: {time.perf_counter() - t:.2f} s")
        s.commit()
    engine.dispose()


def timed(fn, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    name = f"lafa_bench_collections_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        build(url)
        engine = make_engine(url)
        today = date.today()
        with Session(engine) as s:
            s.execute(select(1))
            page = list_collections(s, today, per_page=25)
            assert page == list_collections(s, today, per_page=25, live=True)

            def one_statement() -> None:
                list_collections(s, today, per_page=25)

            def live_statement() -> None:
                list_collections(s, today, per_page=25, live=True)

            def per_driver() -> None:
                rows = []
                for d, grace in s.execute(select(Contract.driver_id, Contract.grace_days)):
                    balance = driver_balance(s, d)
                    if balance > 0:
                        rows.append((days_past_due(s, d, today, grace), balance, d))
                rows.sort(reverse=True)

            owing = [r.driver_id for r in page.items]

            def refresh_one() -> None:  # what each posting adds (a driver 12 weeks late)
                balances.refresh(s, owing[:1])
                s.rollback()

            refresh = timed(refresh_one, repeat=21)
            fast = timed(one_statement)
            live = timed(live_statement)
            slow = timed(per_driver, repeat=2)
        engine.dispose()
        print(f"drivers: {DRIVERS}, ledger entries: ~{DRIVERS * WEEKS * 1.5:,.0f}")
        print(f"drivers owing: {page.total}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"list_collections from the account summary, page of 25: {fast * 1000:.1f} ms")
        print(f"the same, live statement over the ledger: {live * 1000:.1f} ms")
        print(f"baseline (balance + days_past_due per driver): {slow * 1000:.1f} ms")
        print(f"per posting: refreshing one owing driver's summary: {refresh * 1000:.2f} ms")
        print(f"ratio live / summary: {live / fast:.1f}x, baseline / summary: {slow / fast:.1f}x")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
