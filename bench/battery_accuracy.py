"""Accuracy of the battery-health estimator against the simulation's truth:
`python bench/battery_accuracy.py [--cars 150] [--seed 1]`.

A simulated fleet (telemetry.battery.simulate: known capacity per car fading at its own
rate, realistic efficiencies, 1 % SoC steps, noise, gaps, partial sessions, outliers) is
estimated after 30, 90 and 180 days. For each horizon: the mean absolute error of the
state of health at each car's latest session, how often the truth falls inside the
95 % band, and — from 90 days — the error of the fade rate per car and of the fleet's.
Each line is repeated without the sessions' battery temperatures (no fleet temperature
term), which is what a CSV without the optional column gets. In the same run, a naive
baseline on the same sessions: the plain mean of energy × 0.90 ÷ ΔSoC over the sessions
with ΔSoC ≥ 20 for the state of health, the least-squares line through the same
per-session values for the fade rate. Then checks of the assumptions: the season's
effect on the efficiency off and four times stronger, a whole year (the seasons come
round), and cars that were not new when their baseline was taken.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telemetry.battery.estimator import MIN_DELTA_SOC, estimate_fleet
from telemetry.battery.sessions import ChargeSession
from telemetry.battery.simulate import (
    DAYS_PER_YEAR,
    Disturbances,
    SimulatedFleet,
    sessions_until,
    simulate_fleet,
)

HORIZONS = (30, 90, 180)
NAIVE_EFFICIENCY = 0.90


@dataclass
class Scores:
    cars: int
    soh_mae: float
    soh_naive_mae: float
    coverage: float
    fade_mae: float | None = None
    fade_naive_mae: float | None = None
    fleet_fade: float | None = None
    fleet_fade_true: float | None = None
    fleet_fade_naive: float | None = None


def _naive(sessions: Sequence[ChargeSession]) -> tuple[float, float]:
    """(state of health %, fade % a year) of the naive baseline for one car."""
    rows = [s for s in sessions if s.delta_soc >= MIN_DELTA_SOC]
    soh = np.array([100 * s.energy_kwh * NAIVE_EFFICIENCY / (s.delta_soc / 100) for s in rows])
    soh /= rows[0].nominal_kwh
    first = rows[0].started_at
    days = np.array([(s.started_at - first).total_seconds() / 86_400 for s in rows])
    slope = np.polyfit(days, soh, 1)[0] if np.ptp(days) > 0 else 0.0
    return float(np.mean(soh)), float(-slope * DAYS_PER_YEAR)


def score(fleet: SimulatedFleet, horizon: int, samples: int, temperature: bool = True) -> Scores:
    until = fleet.cars[0].commissioned + timedelta(days=horizon)
    sessions = sessions_until(fleet.sessions, until)
    estimate = estimate_fleet(sessions, samples=samples, temperature=temperature)
    by_car: dict[str, list[ChargeSession]] = {}
    for s in sessions:
        by_car.setdefault(s.vehicle_id, []).append(s)
    soh_err, naive_err, inside, fade_err, naive_fade_err = [], [], [], [], []
    fades, true_fades, naive_fades = [], [], []
    for vehicle_id, e in estimate.vehicles.items():
        if e.soh_percent is None or e.as_of is None:
            continue
        car = fleet.car(vehicle_id)
        truth = car.soh_percent(e.as_of)
        naive_soh, naive_fade = _naive(by_car[vehicle_id])
        soh_err.append(abs(e.soh_percent - truth))
        naive_err.append(abs(naive_soh - truth))
        inside.append((e.soh_low or 0) <= truth <= (e.soh_high or 0))
        if e.fade_percent_per_year is not None:
            fade_err.append(abs(e.fade_percent_per_year - car.fade_percent_per_year))
            naive_fade_err.append(abs(naive_fade - car.fade_percent_per_year))
            fades.append(e.fade_percent_per_year)
            true_fades.append(car.fade_percent_per_year)
            naive_fades.append(naive_fade)
    scores = Scores(
        cars=len(soh_err),
        soh_mae=float(np.mean(soh_err)),
        soh_naive_mae=float(np.mean(naive_err)),
        coverage=float(np.mean(inside)),
    )
    if fades:
        scores.fade_mae = float(np.mean(fade_err))
        scores.fade_naive_mae = float(np.mean(naive_fade_err))
        scores.fleet_fade = estimate.fade_percent_per_year
        scores.fleet_fade_true = float(np.mean(true_fades))
        scores.fleet_fade_naive = float(np.mean(naive_fades))
    return scores


def _line(label: str, s: Scores) -> str:
    text = (
        f"{label:<34} cars {s.cars:>4}  SoH MAE {s.soh_mae:5.2f} pts"
        f" (naive {s.soh_naive_mae:5.2f}, ratio {s.soh_naive_mae / s.soh_mae:4.1f}x)"
        f"  band holds truth {100 * s.coverage:3.0f} %"
    )
    if (
        s.fade_mae is not None
        and s.fade_naive_mae is not None
        and s.fleet_fade is not None
        and s.fleet_fade_true is not None
        and s.fleet_fade_naive is not None
    ):
        text += (
            f"\n{'':<34} fade MAE per car {s.fade_mae:4.2f} %/yr"
            f" (naive {s.fade_naive_mae:4.2f}, ratio {s.fade_naive_mae / s.fade_mae:4.1f}x);"
            f" fleet {s.fleet_fade:4.2f} vs true {s.fleet_fade_true:4.2f}"
            f" (error {s.fleet_fade - s.fleet_fade_true:+5.2f}; naive"
            f" {s.fleet_fade_naive - s.fleet_fade_true:+5.2f})"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cars", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--quick", action="store_true", help="the main scenario only")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.1f}; {args.cars} cars, seed {args.seed}")
    fleet = simulate_fleet(args.cars, max(HORIZONS), seed=args.seed)
    print(f"{len(fleet.sessions)} sessions simulated in {time.perf_counter() - started:.1f} s")
    for horizon in HORIZONS:
        print(_line(f"after {horizon} days", score(fleet, horizon, args.samples)))
        plain = score(fleet, horizon, args.samples, temperature=False)
        print(_line("  the same without temperatures", plain))
    if args.quick:
        return
    base = Disturbances()
    for label, effect in (("season's effect off", 0.0), ("season's effect x4", 0.002)):
        varied = simulate_fleet(
            args.cars,
            max(HORIZONS),
            seed=args.seed,
            disturbances=replace(base, temperature_effect=effect),
        )
        print(_line(f"{label}, after 180 days", score(varied, 180, args.samples)))
        plain = score(varied, 180, args.samples, temperature=False)
        print(_line("  the same without temperatures", plain))
    year = simulate_fleet(args.cars, 365, seed=args.seed)
    print(_line("a whole year, after 365 days", score(year, 365, args.samples)))
    rng = np.random.default_rng(args.seed)
    worn = simulate_fleet(
        args.cars, max(HORIZONS), seed=args.seed, initial_soh=rng.uniform(92, 99, args.cars)
    )
    print(_line("cars 92-99 % at baseline, 180 days", score(worn, 180, args.samples)))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
