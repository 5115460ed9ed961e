"""The battery estimator on sessions whose truth is known: what a fleet manager would
read off its output (state of health, its band, fade, alerts)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from telemetry.battery import (
    FAST_FADE,
    LOW_SOH,
    ChargeSession,
    draw_car,
    estimate_fleet,
    estimate_vehicle,
    simulate_fleet,
    true_capacity_kwh,
)
from telemetry.battery.simulate import sessions_until

START = datetime(2026, 1, 5, tzinfo=UTC)


def synthetic_car(
    vehicle_id: str,
    *,
    days: int = 240,
    fade_per_year: float = 2.0,
    nominal: float = 40.0,
    ac_efficiency: float = 0.88,
    dc_efficiency: float = 0.94,
    dc_every: int = 0,
    seed: int = 0,
    outliers: float = 0.0,
    delta_soc: tuple[float, float] = (30, 80),
    warming: float = 0.0,
    per_degree: float = 0.0,
) -> list[ChargeSession]:
    """One session a day: capacity falling linearly, SoC in 1 % steps (floored) with
    ±0.5 points of noise, `outliers` of the sessions with 30-60 % too much energy; the
    battery at 10 °C (±2) warming by `warming` °C over the days, the efficiency changing
    by `per_degree` (relative) per °C."""
    rng = np.random.default_rng(seed)
    sessions = []
    for day in range(days):
        at = START + timedelta(days=day, hours=5)
        dc = dc_every > 0 and day % dc_every == 0
        capacity = true_capacity_kwh(nominal, fade_per_year, day)
        start = float(rng.uniform(10, 40))
        end = min(100.0, start + float(rng.uniform(*delta_soc)))
        temperature = 10 + warming * day / days + float(rng.normal(0, 2))
        efficiency = (dc_efficiency if dc else ac_efficiency) * (
            1 + per_degree * (temperature - 20)
        )
        energy = (end - start) / 100 * capacity / efficiency
        if rng.random() < outliers:
            energy *= float(rng.uniform(1.3, 1.6))
        sessions.append(
            ChargeSession(
                vehicle_id=vehicle_id,
                model="BYD Dolphin Mini",
                nominal_kwh=nominal,
                started_at=at,
                ended_at=at + timedelta(hours=4),
                energy_kwh=energy,
                soc_start=math.floor(start + rng.normal(0, 0.5)),
                soc_end=math.floor(end + rng.normal(0, 0.5)),
                charger_type="DC" if dc else "AC",
                odometer_km=1000 + 180 * day,
                battery_temp_c=round(temperature, 1),
            )
        )
    return sessions


def test_state_of_health_and_fade_of_a_car_follow_its_true_capacity():
    sessions = synthetic_car("A", days=365, fade_per_year=3.0, dc_every=4)
    estimate = estimate_vehicle(sessions)
    truth = 100 - 3.0 * 364 / 365.25
    assert estimate.soh_percent == pytest.approx(truth, abs=1.2)
    assert estimate.soh_low < estimate.soh_percent < estimate.soh_high
    assert estimate.soh_high - estimate.soh_low < 2.5
    assert estimate.capacity_kwh == pytest.approx(40 * estimate.soh_percent / 100)
    assert estimate.fade_percent_per_year == pytest.approx(3.0, abs=0.8)
    assert estimate.fade_low <= 3.0 <= estimate.fade_high
    # 180 km a day: 3 %/year is ~0.46 points per 10,000 km
    assert estimate.fade_percent_per_10000_km == pytest.approx(3.0 / (365.25 * 180) * 1e4, abs=0.15)
    assert estimate.sessions_used == 365
    assert estimate.as_of == sessions[-1].started_at
    assert [p.month for p in estimate.trend][:2] == ["2026-01", "2026-02"]


def test_each_charger_type_gets_its_own_efficiency_from_the_baseline():
    estimate = estimate_vehicle(
        synthetic_car("A", days=120, ac_efficiency=0.86, dc_efficiency=0.945, dc_every=3)
    )
    assert estimate.efficiency["AC"] == pytest.approx(0.86, abs=0.01)
    assert estimate.efficiency["DC"] == pytest.approx(0.945, abs=0.01)
    assert estimate.dc_share == pytest.approx(1 / 3, abs=0.02)


def test_a_charger_type_first_used_after_the_baseline_is_calibrated_then():
    early = [
        s
        for s in synthetic_car("A", days=200, dc_every=0)
        if s.started_at < START + timedelta(days=60)
    ]
    late_dc = [
        s
        for s in synthetic_car("A", days=200, dc_every=2, dc_efficiency=0.93, seed=1)
        if s.started_at >= START + timedelta(days=60)
    ]
    estimate = estimate_vehicle(early + late_dc)
    assert estimate.efficiency["DC"] == pytest.approx(0.93, abs=0.012)
    assert estimate.soh_percent == pytest.approx(100 - 2.0 * 199 / 365.25, abs=1.0)


def test_outliers_move_the_estimate_much_less_than_a_mean():
    clean = estimate_vehicle(synthetic_car("A", days=150, outliers=0.0))
    dirty_sessions = synthetic_car("A", days=150, outliers=0.2)
    dirty = estimate_vehicle(dirty_sessions)
    assert dirty.soh_percent == pytest.approx(clean.soh_percent, abs=1.0)
    # a plain mean of energy × η ÷ ΔSoC (with the true η) is off by several points
    plain = np.mean([100 * s.energy_kwh * 0.88 / (s.delta_soc / 100) / 40 for s in dirty_sessions])
    assert plain - 100 > 4


def test_small_charges_are_not_used_and_too_few_sessions_give_no_estimate():
    small = synthetic_car("A", days=60, delta_soc=(3, 15))
    estimate = estimate_vehicle(small)
    assert estimate.sessions_total == 60
    assert estimate.sessions_used == 0
    assert estimate.soh_percent is None
    assert estimate.fade_percent_per_year is None

    few = estimate_vehicle(synthetic_car("B", days=6))
    assert few.soh_percent is None


def test_no_fade_rate_before_two_months_of_sessions():
    estimate = estimate_vehicle(synthetic_car("A", days=45))
    assert estimate.soh_percent == pytest.approx(100, abs=0.8)
    assert estimate.fade_percent_per_year is None
    assert estimate.fade_percent_per_10000_km is None


def test_alerts_for_a_worn_battery_and_for_a_car_fading_faster_than_its_peers():
    sessions = []
    for n in range(8):
        sessions += synthetic_car(f"peer-{n}", days=300, fade_per_year=2.0 + 0.1 * n, seed=n)
    sessions += synthetic_car("fast", days=300, fade_per_year=9.0, seed=20)
    sessions += synthetic_car("worn", days=300, fade_per_year=22.0, seed=21)
    fleet = estimate_fleet(sessions)
    assert FAST_FADE in fleet.vehicles["fast"].alerts
    assert LOW_SOH not in fleet.vehicles["fast"].alerts
    assert LOW_SOH in fleet.vehicles["worn"].alerts
    assert fleet.vehicles["worn"].soh_percent < 85
    assert all(not fleet.vehicles[f"peer-{n}"].alerts for n in range(8))
    assert fleet.fade_median == pytest.approx(2.35, abs=0.8)
    assert fleet.vehicles["fast"].fade_z > 3


def test_a_warming_season_does_not_read_as_fade_when_temperatures_are_known():
    sessions = []
    for n in range(10):
        sessions += synthetic_car(f"car-{n}", days=240, warming=8, per_degree=0.002, seed=n)
    with_temperature = estimate_fleet(sessions, samples=20)
    without = estimate_fleet(sessions, samples=20, temperature=False)
    # 8 °C warmer at 0.2 %/°C: 1.6 % more efficient by the end, read as 2.4 %/year of fade
    assert without.fade_percent_per_year == pytest.approx(2.0 + 2.4, abs=0.5)
    assert without.efficiency_per_degree is None
    assert with_temperature.efficiency_per_degree == pytest.approx(0.002, abs=0.0005)
    assert with_temperature.fade_percent_per_year == pytest.approx(2.0, abs=0.4)


def test_a_simulated_fleet_is_estimated_within_the_target_after_90_days():
    fleet = simulate_fleet(12, 90, seed=5)
    until = START + timedelta(days=90)
    estimate = estimate_fleet(sessions_until(fleet.sessions, until), samples=50)
    estimated = [e for e in estimate.vehicles.values() if e.soh_percent is not None]
    truths = [fleet.car(e.vehicle_id).soh_percent(e.as_of) for e in estimated]
    errors = [abs(e.soh_percent - t) for e, t in zip(estimated, truths, strict=True)]
    assert len(errors) == 12
    assert np.mean(errors) < 1.5
    inside = [e.soh_low <= t <= e.soh_high for e, t in zip(estimated, truths, strict=True)]
    assert sum(inside) >= 9


def test_the_truth_is_the_same_for_the_same_seed_and_car():
    a = draw_car(7, "LAFA-0001", commissioned=START)
    b = draw_car(7, "LAFA-0001", commissioned=START)
    other = draw_car(7, "LAFA-0002", commissioned=START)
    assert a == b
    assert a.fade_percent_per_year != other.fade_percent_per_year
    assert 1.8 <= a.fade_percent_per_year <= 3.3
    one_year = START + timedelta(days=365.25)
    assert a.capacity_kwh(one_year) == pytest.approx(
        a.nominal_kwh * (1 - a.fade_percent_per_year / 100)
    )
    assert true_capacity_kwh(40, 2.0, 365.25 / 2, initial_soh_percent=95) == pytest.approx(37.6)
    given = draw_car(7, "LAFA-0001", commissioned=START, model="JAC E10X", nominal_kwh=31.4)
    assert given.fade_percent_per_year == a.fade_percent_per_year
    assert given.nominal_kwh == 31.4


def test_simulated_sessions_look_like_what_the_join_produces():
    fleet = simulate_fleet(3, 60, seed=2)
    again = simulate_fleet(3, 60, seed=2)
    assert fleet.sessions == again.sessions
    assert fleet.sessions
    for s in fleet.sessions:
        assert s.soc_start == int(s.soc_start)
        assert s.soc_end == int(s.soc_end)
        assert 0 <= s.soc_start < s.soc_end <= 100
        assert s.energy_kwh > 0
        assert s.charger_type in ("AC", "DC")
        assert s.ended_at > s.started_at
