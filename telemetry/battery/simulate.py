"""Simulated charging sessions of cars whose battery truth is known.

The accuracy benchmark and the demo's simulated world share one truth: a car is drawn
from a seed and a key (`draw_car`), and its capacity on any day is
`true_capacity_kwh(nominal, fade rate, days since commissioning)`, a straight line
from its state of health when it entered the fleet (100 % for a new car) down at its
own fade rate, in points of nominal capacity per year.

What the sessions carry, each with its reason:

- Fade rates around 1.8-2.3 % a year, plus up to ~1 point for cars that mostly
  fast-charge (Geotab's fleet studies: 1.8-2.3 % on average, up to ~3 % for cars
  mostly DC-charged).
- Charging efficiency (energy into the battery ÷ energy metered): AC 0.86-0.90 per car
  at 11 kW, lower at 7.4 kW (the on-board charger's fixed losses weigh more); DC
  0.925-0.95 per car, slightly lower at higher power; lower for a cold battery
  (`temperature_effect` per °C under 20 °C; Mexico City's seasons swing the battery's
  temperature by some 7 °C between January and May).
- Ride-hailing days of 90-230 km at 0.12-0.15 kWh/km, a day off now and then, a
  charge at the end of most days (AC overnight to 80-100 %, DC in the afternoon to
  75-90 %), some weeks out of service.
- The tracker's state of charge: the battery management system's estimate (±0.5
  points) shown in whole percent (floored, 1 % steps); now and then the reading before
  a session is stale (taken before the last drive) or the one after comes late
  (after the next drive).
- Partial sessions (stopped early: most under 20 points), energy partly metered (a
  charger that rebooted mid-session), cabin pre-conditioning while plugged in (extra
  energy), cell balancing at 100 % (energy that moves no percent), meter noise.
- Tracker gaps: a session without a reading before or after is not in the output
  (the join finds no state of charge for it).
- The battery's temperature at the start as the tracker reads it (IO 151, ±0.5 °C),
  missing for some sessions.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from .sessions import ChargeSession

DAYS_PER_YEAR = 365.25

MODELS: tuple[tuple[str, float], ...] = (
    # the demo fleet's catalogue (portal.demo.MODELS): model, usable kWh when new
    ("BYD Dolphin Mini", 38.8),
    ("BYD Dolphin Mini", 30.0),
    ("JAC E10X", 31.4),
)
LOCAL_UTC_OFFSET = timedelta(hours=-6)  # America/Mexico_City, no daylight saving time


def true_capacity_kwh(
    nominal_kwh: float,
    fade_percent_per_year: float,
    days: float,
    initial_soh_percent: float = 100.0,
) -> float:
    """The battery's usable capacity `days` after commissioning: it starts at
    `initial_soh_percent` of nominal and loses `fade_percent_per_year` points of nominal
    a year (linear: the average fade fleets report over the first years)."""
    soh = initial_soh_percent - fade_percent_per_year * max(0.0, days) / DAYS_PER_YEAR
    return nominal_kwh * soh / 100.0


def _rng(seed: int, key: str | int, stream: int) -> np.random.Generator:
    """A generator that depends only on (seed, key, stream): the same car gets the same
    draws in the benchmark and in the demo world, whatever else is simulated."""
    return np.random.default_rng([seed, zlib.crc32(str(key).encode()), stream])


@dataclass(frozen=True, slots=True)
class SimulatedCar:
    vehicle_id: str
    model: str
    nominal_kwh: float
    commissioned: datetime
    fade_percent_per_year: float
    initial_soh_percent: float
    dc_share: float  # share of its charging sessions on DC
    ac_efficiency: float  # at 11 kW, battery at 20 °C or warmer
    dc_efficiency: float  # at 40 kW, battery at 20 °C or warmer
    ac_kw: float  # its on-board charger's limit
    km_per_day: float
    kwh_per_km: float

    def capacity_kwh(self, at: datetime) -> float:
        days = (at - self.commissioned).total_seconds() / 86_400
        return true_capacity_kwh(
            self.nominal_kwh, self.fade_percent_per_year, days, self.initial_soh_percent
        )

    def soh_percent(self, at: datetime) -> float:
        return 100.0 * self.capacity_kwh(at) / self.nominal_kwh


def fade_rate_percent_per_year(rng: np.random.Generator, dc_share: float) -> float:
    """1.8-2.3 points a year (centred on 2.05), plus up to ~1 point for mostly DC."""
    return float(1.8 + 0.5 * rng.beta(2.0, 2.0) + 1.0 * dc_share**2)


def draw_car(
    seed: int,
    key: str | int,
    *,
    commissioned: datetime,
    model: str | None = None,
    nominal_kwh: float | None = None,
    initial_soh_percent: float = 100.0,
) -> SimulatedCar:
    """The car `key` of the world `seed`: its fade rate, charging habits and
    efficiencies. The model and capacity are drawn from `MODELS` unless given."""
    rng = _rng(seed, key, 0)
    drawn_model, drawn_kwh = MODELS[int(rng.integers(len(MODELS)))]
    mostly_dc = rng.random() < 0.12
    dc_share = float(rng.uniform(0.6, 0.95) if mostly_dc else rng.beta(1.5, 6.0))
    return SimulatedCar(
        vehicle_id=str(key),
        model=model or drawn_model,
        nominal_kwh=float(nominal_kwh or drawn_kwh),
        commissioned=commissioned,
        fade_percent_per_year=fade_rate_percent_per_year(rng, dc_share),
        initial_soh_percent=initial_soh_percent,
        dc_share=dc_share,
        ac_efficiency=float(rng.uniform(0.86, 0.90)),
        dc_efficiency=float(rng.uniform(0.925, 0.95)),
        ac_kw=float(rng.choice([7.4, 11.0])),
        km_per_day=float(rng.uniform(130, 200)),
        kwh_per_km=float(rng.uniform(0.12, 0.15)),
    )


def battery_temperature_c(at: datetime, dc: bool, rng: np.random.Generator) -> float:
    """The battery's temperature while charging: Mexico City's season (coolest in
    January, warmest in May), cooler overnight (AC), warmer after an afternoon of
    driving (DC)."""
    day_of_year = at.timetuple().tm_yday
    season = 16.0 + 3.5 * math.sin(2 * math.pi * (day_of_year - 105) / 365.0)
    return season + (6.0 if dc else -2.0) + float(rng.normal(0.0, 2.0))


@dataclass(frozen=True, slots=True)
class Disturbances:
    """How often the data goes wrong (probabilities per session)."""

    stopped_early: float = 0.08
    partly_metered: float = 0.02
    preconditioning: float = 0.03
    stale_start: float = 0.04
    late_end: float = 0.04
    missing_reading: float = 0.03
    missing_temperature: float = 0.1  # a tracker without the CAN adapter's IO 151
    soc_noise: float = 0.5  # the BMS's estimate, points (standard deviation)
    meter_noise: float = 0.003  # relative
    temperature_effect: float = 0.0005  # efficiency lost per °C under 20 °C


@dataclass
class SimulatedFleet:
    cars: list[SimulatedCar]
    sessions: list[ChargeSession] = field(default_factory=list)

    def car(self, vehicle_id: str) -> SimulatedCar:
        return next(c for c in self.cars if c.vehicle_id == vehicle_id)


def _efficiency(
    car: SimulatedCar, dc: bool, kw: float, temperature: float, d: Disturbances
) -> float:
    if dc:
        base = car.dc_efficiency - 0.0002 * (kw - 40.0)
    else:
        base = car.ac_efficiency - 0.004 * (11.0 - kw)
    return base * (1.0 - d.temperature_effect * max(0.0, 20.0 - temperature))


def simulate_car(
    car: SimulatedCar,
    seed: int,
    days: int,
    disturbances: Disturbances | None = None,
) -> list[ChargeSession]:
    """`days` days of the car's charging sessions from its commissioning day."""
    d = disturbances or Disturbances()
    rng = _rng(seed, car.vehicle_id, 1)
    out_from, out_days = -1, 0
    if rng.random() < 0.25:  # a spell in the workshop
        out_from, out_days = int(rng.integers(0, max(1, days))), int(rng.integers(4, 22))
    soc = 90.0
    odometer = float(rng.uniform(5, 3000))
    sessions: list[ChargeSession] = []
    midnight = car.commissioned.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days):
        if out_from <= day < out_from + out_days or rng.random() < 0.1:
            continue
        local_midnight = midnight + timedelta(days=day) - LOCAL_UTC_OFFSET
        capacity = car.capacity_kwh(local_midnight + timedelta(hours=12))
        km = car.km_per_day * float(rng.uniform(0.6, 1.3))
        km = min(km, (soc - 8.0) / 100 * capacity / car.kwh_per_km)  # stops at ~8 %
        soc_before_drive = soc
        soc -= 100 * km * car.kwh_per_km / capacity
        odometer += km
        dc = rng.random() < car.dc_share
        target = (
            float(rng.uniform(75, 90))
            if dc
            else (100.0 if rng.random() < 0.5 else float(rng.uniform(80, 95)))
        )
        if soc >= target - 5:
            continue
        if rng.random() < d.stopped_early:
            target = min(target, soc + float(rng.uniform(2, 25)))
        start_hour = float(rng.uniform(13, 17)) if dc else float(rng.uniform(22, 25))
        started = local_midnight + timedelta(hours=start_hour)
        kw = float(rng.uniform(25, 60)) if dc else car.ac_kw * float(rng.uniform(0.9, 1.0))
        into_battery = (target - soc) / 100 * capacity
        if target >= 99.5:  # cell balancing: energy the displayed percent does not show
            into_battery += float(rng.uniform(0.0, 0.015)) * capacity
        temperature = battery_temperature_c(started, dc, rng)
        energy = into_battery / _efficiency(car, dc, kw, temperature, d)
        energy *= 1 + float(rng.normal(0.0, d.meter_noise))
        if rng.random() < d.preconditioning:
            energy += float(rng.uniform(0.5, 2.5))
        if rng.random() < d.partly_metered:
            energy *= float(rng.uniform(0.3, 0.85))
        ended = started + timedelta(hours=1.1 * into_battery / kw)
        shown_start = soc + float(rng.normal(0.0, d.soc_noise))
        shown_end = target + float(rng.normal(0.0, d.soc_noise))
        if rng.random() < d.stale_start:  # the last reading was before the last drive
            shown_start += float(rng.uniform(0.1, 1.0)) * (soc_before_drive - soc)
        if rng.random() < d.late_end:  # the first reading after came after a drive
            shown_end -= float(rng.uniform(2, 20))
        shown_temperature = (
            None
            if rng.random() < d.missing_temperature
            else round(temperature + float(rng.normal(0.0, 0.5)), 1)
        )
        missing = rng.random() < d.missing_reading
        soc = target
        if missing:
            continue
        soc_start = float(min(100, max(0, math.floor(shown_start))))
        soc_end = float(min(100, max(0, math.floor(shown_end))))
        if soc_end <= soc_start:
            continue
        sessions.append(
            ChargeSession(
                vehicle_id=car.vehicle_id,
                model=car.model,
                nominal_kwh=car.nominal_kwh,
                started_at=started.astimezone(UTC),
                ended_at=ended.astimezone(UTC),
                energy_kwh=round(energy, 3),
                soc_start=soc_start,
                soc_end=soc_end,
                charger_type="DC" if dc else "AC",
                odometer_km=round(odometer, 1),
                battery_temp_c=shown_temperature,
            )
        )
    return sessions


def simulate_fleet(
    cars: int,
    days: int,
    seed: int = 1,
    start: datetime | None = None,
    disturbances: Disturbances | None = None,
    initial_soh: Sequence[float] | None = None,
) -> SimulatedFleet:
    """`cars` cars commissioned on `start` (new, unless `initial_soh` gives each car's
    state of health then) and `days` days of their sessions, in time order."""
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    fleet = SimulatedFleet(
        [
            draw_car(
                seed,
                f"car-{n:04d}",
                commissioned=start,
                initial_soh_percent=initial_soh[n] if initial_soh is not None else 100.0,
            )
            for n in range(cars)
        ]
    )
    for car in fleet.cars:
        fleet.sessions.extend(simulate_car(car, seed, days, disturbances))
    fleet.sessions.sort(key=lambda s: (s.started_at, s.vehicle_id))
    return fleet


def sessions_until(sessions: Sequence[ChargeSession], until: datetime) -> list[ChargeSession]:
    """The sessions that ended by `until` (what an estimate on that day could use)."""
    return [s for s in sessions if s.ended_at <= until]
