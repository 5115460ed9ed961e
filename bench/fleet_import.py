"""Day one's import at 2,000 vehicles, 2,000 drivers and 2,000 contracts: dry run and
real, with peak memory, against a baseline measured in the same run.

Builds a throw-away database (one depot, the model catalogue), writes the three CSV
files, and times `fleet_import.importer.run_import` on each: a dry run, the real import
(committed), and the same file again (which must change nothing). The baseline is the
obvious way: the vehicles one `vehicles.add_vehicle` call per row (rolled back).
Peak memory is Python's (tracemalloc) during each import, and the process's maximum
resident set size at the end. Run: `python bench/fleet_import.py`.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.cli import upgrade_database
from portal.db import make_engine
from portal.models import ConnectorType, Depot, Vehicle, VehicleModel
from portal.services import vehicles
from portal.services.fleet_import import importer, parse
from portal.services.identifiers import luhn_complete, make_curp, with_vin_check_digit
from portal.timeutil import local_today

ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = 2_000


def vin(n: int, series: str = "S") -> str:
    return with_vin_check_digit(f"LGXCE4CB0{series}{n:07d}")


def files() -> dict[str, str]:
    rng = random.Random(13)
    cars = ["vin,plate,make,model,year,battery_kwh,connector,tracker_imei,depot_code,status"]
    people = ["phone,first_name,last_name,curp,rfc,email,license_number,license_expires"]
    leases = [
        "driver_phone,vin,start_date,weekly_rent_mxn,deposit_mxn,term_weeks,weeks_paid,"
        "opening_balance_mxn"
    ]
    for i in range(ROWS):
        imei = luhn_complete(f"86{i:012d}")
        cars.append(f"{vin(i)},BEN-{i:04d},BYD,Dolphin Mini,2025,38.8,CCS2,{imei},VLJ,available")
        born = date(1980, 1, 1) + timedelta(days=i * 3)
        curp = make_curp("Carla", "Nava", "Ruiz", born, "M", "DF", rng)
        phone = f"55{30000000 + i:08d}"
        people.append(f"{phone},Carla,Nava,{curp},,,CDMX{i:06d},2030-12-31")
        start = date(2024, 1, 1) + timedelta(weeks=i % 80)
        leases.append(
            f"{phone},{vin(i)},{start},3500,7000,156,{i % 60},{rng.randrange(-500, 9000)}"
        )
    return {
        "vehicles": "\n".join(cars),
        "drivers": "\n".join(people),
        "contracts": "\n".join(leases),
    }


def timed(engine: object, kind: str, text: str, dry_run: bool) -> tuple[float, int, object]:
    with Session(engine) as session:  # type: ignore[call-overload]
        tracemalloc.start()
        t = time.perf_counter()
        report = importer.run_import(
            session,
            kind,
            text,
            source=f"{kind}.csv",
            actor_id=None,
            today=local_today(),
            dry_run=dry_run,
        )
        if report.ok and not dry_run:
            session.commit()
        elapsed = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert report.ok, report.errors[:3]
    return elapsed, peak, report


def baseline(engine: object, texts: dict[str, str]) -> float:
    """One add_vehicle per row of the vehicles' file, in a transaction rolled back."""
    rows = [line.split(",") for line in texts["vehicles"].splitlines()[1:]]
    with Session(engine) as session:  # type: ignore[call-overload]
        model = session.query(VehicleModel).one()
        depot = session.query(Depot).one()
        t = time.perf_counter()
        for row in rows:
            vehicles.add_vehicle(
                session,
                vehicles.VehicleData(row[0], row[1], model.id, 2025, depot.id, row[7]),
                actor_id=None,
                today_year=local_today().year,
                status=vehicles.S.AVAILABLE,
            )
        elapsed = time.perf_counter() - t
        session.rollback()
    return elapsed


def main() -> None:
    name = f"lafa_bench_import_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_database(url)
        engine = make_engine(url)
        with Session(engine) as session:
            session.add(
                Depot(code="VLJ", name="Vallejo", address="CDMX", site_power_kw=Decimal(300))
            )
            session.add(
                VehicleModel(
                    make="BYD",
                    model="Dolphin Mini",
                    battery_kwh=Decimal("38.8"),
                    range_km=380,
                    connector_type=ConnectorType.CCS2,
                )
            )
            session.commit()
        texts = files()
        print(f"fleet import, {ROWS:,} rows per file; load average {os.getloadavg()[0]:.1f}")
        base = baseline(engine, texts)
        print(f"  baseline: add_vehicle per row, {ROWS:,} vehicles: {base:6.2f} s")
        for kind in parse.KINDS:
            dry, dry_peak, _ = timed(engine, kind, texts[kind], True)
            real, real_peak, report = timed(engine, kind, texts[kind], False)
            again, _, second = timed(engine, kind, texts[kind], False)
            assert report.created == ROWS
            assert second.unchanged == ROWS
            ratio = f" ({base / real:.1f}x faster than the baseline)" if kind == "vehicles" else ""
            print(
                f"  {kind:9} dry run {dry:5.2f} s (peak {dry_peak / 2**20:5.1f} MiB), "
                f"import {real:5.2f} s (peak {real_peak / 2**20:5.1f} MiB){ratio}, "
                f"again {again:5.2f} s (nothing changed)"
            )
        with Session(engine) as session:
            assert session.query(Vehicle).filter_by(status="leased").count() == ROWS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  process peak resident memory: {rss:.0f} MiB")
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
