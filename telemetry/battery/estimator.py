"""Each car's battery state of health from its charging sessions.

A session tells how much energy the charger metered (E) and how many points of state of
charge the car gained (ΔSoC). The battery's capacity C is then

    C ≈ E × η ÷ (ΔSoC / 100)

where η, the charging efficiency, is the share of the metered energy that reached the
battery (the rest heats the on-board charger, cables, cells and cooling). With only E
and ΔSoC, η and C cannot be told apart: E ÷ ΔSoC measures C ÷ η. So the estimator makes
one assumption, per car:

    **During its baseline — its first `BASELINE_DAYS` days of sessions — the battery
    has its nominal capacity (state of health 100 %).**

From the baseline it learns the car's efficiency per charger type (η_AC, η_DC: they
differ by 5-8 points); afterwards the same efficiencies turn each session into a
capacity. Consequences:

- State of health is measured *relative to the baseline*. A car that joined the fleet
  already worn (a used car, or a fleet that starts measuring late) reads ~100 % at the
  end of its baseline and fades from there; its fade rate in % a year is overstated by
  the factor 1 ÷ (its true state of health at baseline) — 5 % for a car at 95 %.
- The fade during the baseline itself (some 0.1 points) is ignored.
- Whatever is constant per car — its BMS's idea of 0-100 %, the energy cell balancing
  takes at 100 %, the standby draw of a long AC session — is folded into η, so it
  cancels as long as the car's habits stay the same. What changes over time does not
  cancel: a cold season lowers η and reads as lost capacity. When the sessions carry
  the battery's temperature, `estimate_fleet` learns one temperature term over the
  fleet and takes every session's energy to 20 °C first (docs/battery-health.md).
- A charger type the car did not use enough during its baseline is calibrated later,
  against the capacity its other type shows at the time (the estimate's trend line).

Robustness: only sessions with ΔSoC ≥ `MIN_DELTA_SOC` points are used (the tracker's 1 %
steps are then ≤ 5 % of the reading; a partial session rarely reaches it); a session
whose kWh per 100 % is implausible for the car (under 0.6 or over 1.6 times its nominal
capacity: a reading from another drive, a meter that restarted) is dropped; the
efficiencies are Hodges-Lehmann estimates (the median of pairwise means: as efficient
as a mean on clean data, unmoved by up to 29 % of outliers) and the trend is a
Theil-Sen line (the median of pairwise slopes, `scipy.stats.theilslopes`), not a mean
or least squares. The band is a bootstrap over the car's sessions (efficiencies and
line refitted on each resample).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from scipy import stats

from .sessions import CHARGER_TYPES, ChargerType, ChargeSession

MIN_DELTA_SOC = 20.0
"""Sessions that moved the state of charge less than this many points are not used."""
BASELINE_DAYS = 28
"""The car's first days of sessions, during which its battery is taken as new."""
MIN_CALIBRATION_SESSIONS = 8
"""Sessions of one charger type needed to learn its efficiency."""
MIN_FADE_DAYS = 60
"""Sessions must span this many days before a fade rate is reported."""
PLAUSIBLE_KWH_PER_FULL = (0.6, 1.6)
"""Metered kWh per 100 % of charge, as a multiple of the nominal capacity."""
LOW_SOH_PERCENT = 85.0
FAST_FADE_Z = 3.0
"""Robust z-score (against the fleet's median and MAD) of a fade rate that alerts."""
MIN_PEERS = 5
"""Cars with a fade rate needed before a car can be compared with its peers."""
BOOTSTRAP_SAMPLES = 200
PAIRS_PER_CHUNK = 2_000_000
BAND = 0.95
DAYS_PER_YEAR = 365.25
MAD_TO_SIGMA = 1.4826
OUTLIER_SIGMAS = 3.0

TEMPERATURE_REFERENCE_C = 20.0
"""Energies are normalised to a battery at this temperature (it cancels in the
efficiency; any value would do)."""
MIN_TEMPERATURE_SESSIONS = 200
"""Sessions with a battery temperature the fleet needs before its temperature term is
learned."""

LOW_SOH = "low_soh"
FAST_FADE = "fast_fade"


@dataclass(frozen=True, slots=True)
class MonthPoint:
    """The median state of health shown by one calendar month's sessions (UTC)."""

    month: str  # YYYY-MM
    soh_percent: float
    sessions: int


@dataclass(frozen=True, slots=True)
class VehicleEstimate:
    vehicle_id: str
    model: str
    nominal_kwh: float
    sessions_total: int  # the car's sessions given to the estimator
    sessions_used: int  # those used: ΔSoC ≥ 20, plausible, a calibrated charger type
    as_of: datetime | None = None  # the latest session used
    soh_percent: float | None = None
    soh_low: float | None = None
    soh_high: float | None = None
    capacity_kwh: float | None = None
    fade_percent_per_year: float | None = None  # points of nominal lost per year
    fade_low: float | None = None
    fade_high: float | None = None
    fade_percent_per_10000_km: float | None = None
    efficiency: dict[str, float] = field(default_factory=dict)  # per charger type
    dc_share: float | None = None  # of the sessions used
    fade_z: float | None = None  # robust z-score against the fleet
    alerts: tuple[str, ...] = ()
    trend: tuple[MonthPoint, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetEstimate:
    vehicles: dict[str, VehicleEstimate]
    fade_percent_per_year: float | None  # the fleet's mean fade (cars with a fade rate)
    fade_median: float | None
    fade_mad: float | None  # robust spread (MAD × 1.4826) of the cars' fade rates
    # Efficiency gained per °C of battery temperature, learned over the fleet (relative,
    # 0.0005 = 0.05 %/°C); None when the sessions carry too few temperatures.
    efficiency_per_degree: float | None = None


# --- robust building blocks ------------------------------------------------------------


def hodges_lehmann(values: np.ndarray) -> float:
    """The median of all pairwise means (each value with itself included)."""
    i, j = np.triu_indices(len(values))
    return float(np.median((values[i] + values[j]) / 2))


def robust_location(values: np.ndarray) -> float:
    """Hodges-Lehmann after setting aside values more than `OUTLIER_SIGMAS` robust
    standard deviations (MAD × 1.4826) from the median: the data's outliers are
    one-sided (a late reading, pre-conditioning), which would pull even a
    Hodges-Lehmann estimate."""
    median = np.median(values)
    spread = MAD_TO_SIGMA * np.median(np.abs(values - median))
    if spread > 0:
        values = values[np.abs(values - median) <= OUTLIER_SIGMAS * spread]
    return hodges_lehmann(values)


def _pairwise_median_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Theil-Sen slopes of many samples at once: rows of x and y are samples."""
    dx = x[:, :, None] - x[:, None, :]
    dy = y[:, :, None] - y[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(dx > 0, dy / dx, np.nan)
    return np.asarray(np.nanmedian(slopes.reshape(len(x), -1), axis=1))


# --- one car -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Calibration:
    """The sessions that set one charger type's efficiency, and the capacity (as a
    share of nominal) each of them is taken to have seen."""

    members: np.ndarray  # indices into the car's usable sessions
    assumed_soh: np.ndarray  # fraction of nominal, per member


@dataclass(frozen=True, slots=True)
class _Car:
    sessions: list[ChargeSession]  # usable, in time order
    days: np.ndarray  # since the first usable session
    log_kwh_per_full: np.ndarray  # log(E ÷ (ΔSoC/100))
    dc: np.ndarray  # bool
    odometer: np.ndarray  # km, nan where unknown
    nominal: float


def _usable(sessions: Sequence[ChargeSession], nominal: float) -> list[ChargeSession]:
    low, high = PLAUSIBLE_KWH_PER_FULL
    return sorted(
        (
            s
            for s in sessions
            if s.delta_soc >= MIN_DELTA_SOC
            and low <= s.energy_kwh / (s.delta_soc / 100) / nominal <= high
        ),
        key=lambda s: s.started_at,
    )


def _car(usable: list[ChargeSession], nominal: float) -> _Car:
    first = usable[0].started_at
    return _Car(
        sessions=usable,
        days=np.array([(s.started_at - first).total_seconds() / 86_400 for s in usable]),
        log_kwh_per_full=np.log([s.energy_kwh / (s.delta_soc / 100) for s in usable]),
        dc=np.array([s.charger_type == "DC" for s in usable]),
        odometer=np.array([math.nan if s.odometer_km is None else s.odometer_km for s in usable]),
        nominal=nominal,
    )


def _log_efficiency(car: _Car, calibration: _Calibration, members: np.ndarray) -> float:
    """log η from calibration sessions: η = (assumed capacity) ÷ (kWh per 100 %)."""
    implied = (
        np.log(car.nominal * calibration.assumed_soh[members])
        - car.log_kwh_per_full[calibration.members[members]]
    )
    return robust_location(implied)


def _line(days: np.ndarray, soh: np.ndarray) -> tuple[float, float]:
    """Theil-Sen (intercept, slope per day) of state of health over days."""
    if len(days) < 2 or np.ptp(days) == 0:
        return float(np.median(soh)), 0.0
    result = stats.theilslopes(soh, days, method="joint")
    return float(result.intercept), float(result.slope)


def _calibrations(car: _Car) -> dict[ChargerType, _Calibration]:
    """Which sessions set each charger type's efficiency (see the module's docstring)."""
    in_baseline = car.days <= BASELINE_DAYS
    by_type = {t: np.flatnonzero(car.dc == (t == "DC")) for t in CHARGER_TYPES}
    baseline_counts = {t: int(np.count_nonzero(in_baseline[idx])) for t, idx in by_type.items()}
    anchor = max(CHARGER_TYPES, key=lambda t: (baseline_counts[t], t == "AC"))
    calibrations: dict[ChargerType, _Calibration] = {}
    anchor_idx = by_type[anchor]
    members = anchor_idx[in_baseline[anchor_idx]]
    if len(members) < MIN_CALIBRATION_SESSIONS:
        members = anchor_idx[:MIN_CALIBRATION_SESSIONS]
    if len(members) < MIN_CALIBRATION_SESSIONS:
        return calibrations
    calibrations[anchor] = _Calibration(members, np.ones(len(members)))
    other: ChargerType = "DC" if anchor == "AC" else "AC"
    other_idx = by_type[other]
    if baseline_counts[other] >= MIN_CALIBRATION_SESSIONS:
        members = other_idx[in_baseline[other_idx]]
        calibrations[other] = _Calibration(members, np.ones(len(members)))
    elif len(other_idx) >= MIN_CALIBRATION_SESSIONS:
        # Calibrated against the anchor's capacity line at the time of its first weeks.
        first = car.days[other_idx[0]]
        members = other_idx[car.days[other_idx] <= first + BASELINE_DAYS]
        if len(members) < MIN_CALIBRATION_SESSIONS:
            members = other_idx[:MIN_CALIBRATION_SESSIONS]
        anchor_cal = calibrations[anchor]
        log_eta = _log_efficiency(car, anchor_cal, np.arange(len(anchor_cal.members)))
        anchor_soh = np.exp(car.log_kwh_per_full[anchor_idx] + log_eta) / car.nominal
        intercept, slope = _line(car.days[anchor_idx], anchor_soh)
        calibrations[other] = _Calibration(members, intercept + slope * car.days[members])
    return calibrations


@dataclass(frozen=True, slots=True)
class _Fit:
    soh_now: float  # percent
    slope: float  # percent per day (negative when fading)
    km_slope: float | None  # percent per km


def _soh_points(car: _Car, log_eta: dict[ChargerType, float], idx: np.ndarray) -> np.ndarray:
    eta = np.where(car.dc[idx], log_eta.get("DC", math.nan), log_eta.get("AC", math.nan))
    return np.asarray(100 * np.exp(car.log_kwh_per_full[idx] + eta) / car.nominal)


def _fit(car: _Car, log_eta: dict[ChargerType, float], idx: np.ndarray) -> _Fit:
    soh = _soh_points(car, log_eta, idx)
    days = car.days[idx]
    last = float(car.days[-1])
    if last < MIN_FADE_DAYS:
        return _Fit(robust_location(soh), 0.0, None)
    intercept, slope = _line(days, soh)
    km_slope = None
    odometer = car.odometer[idx]
    known = ~np.isnan(odometer)
    if np.count_nonzero(known) >= MIN_CALIBRATION_SESSIONS and np.ptp(odometer[known]) > 0:
        km_slope = _line(odometer[known], soh[known])[1]
    return _Fit(intercept + slope * last, slope, km_slope)


def _bootstrap(
    car: _Car,
    calibrations: dict[ChargerType, _Calibration],
    used: np.ndarray,
    rng: np.random.Generator,
    samples: int,
) -> tuple[np.ndarray, np.ndarray]:
    """State of health now and slope per day, for `samples` resamples of the sessions.

    Stratified: each charger type's calibration sessions are resampled among
    themselves (their efficiency refitted, their assumed capacities held), and the
    other sessions among themselves, so every resample has the same number of each."""
    position = np.full(len(car.sessions), -1)
    position[used] = np.arange(len(used))
    calibration_draws = {
        t: rng.integers(0, len(c.members), size=(samples, len(c.members)))
        for t, c in calibrations.items()
    }
    calibrated = np.zeros(len(used), dtype=bool)
    for c in calibrations.values():
        calibrated[position[c.members]] = True
    rest = np.flatnonzero(~calibrated)
    draws = np.concatenate(
        [position[calibrations[t].members][d] for t, d in calibration_draws.items()]
        + [rest[rng.integers(0, len(rest), size=(samples, len(rest)))]],
        axis=1,
    )
    points = np.empty(draws.shape)
    for b in range(samples):
        log_eta = {
            t: _log_efficiency(car, c, calibration_draws[t][b]) for t, c in calibrations.items()
        }
        points[b] = _soh_points(car, log_eta, used[draws[b]])
    last = float(car.days[-1])
    if last < MIN_FADE_DAYS:
        return np.array([robust_location(p) for p in points]), np.zeros(samples)
    days = car.days[used][draws]
    slopes = np.empty(samples)
    chunk = max(1, PAIRS_PER_CHUNK // len(used) ** 2)  # bounds the memory of a chunk
    for first in range(0, samples, chunk):
        part = slice(first, first + chunk)
        slopes[part] = _pairwise_median_slopes(days[part], points[part])
    intercepts = np.median(points - slopes[:, None] * days, axis=1)
    return intercepts + slopes * last, slopes


def _monthly(car: _Car, soh: np.ndarray, idx: np.ndarray) -> tuple[MonthPoint, ...]:
    months: dict[str, list[float]] = defaultdict(list)
    for i, value in zip(idx, soh, strict=True):
        months[f"{car.sessions[i].started_at:%Y-%m}"].append(float(value))
    return tuple(
        MonthPoint(month, round(float(np.median(values)), 2), len(values))
        for month, values in sorted(months.items())
    )


def estimate_vehicle(
    sessions: Sequence[ChargeSession],
    *,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
) -> VehicleEstimate:
    """One car's estimate from its sessions (any order). Without enough usable sessions
    to learn an efficiency, the estimate says how many it had and nothing more."""
    latest = max(sessions, key=lambda s: s.started_at)
    nominal = latest.nominal_kwh
    empty = VehicleEstimate(
        vehicle_id=latest.vehicle_id,
        model=latest.model,
        nominal_kwh=nominal,
        sessions_total=len(sessions),
        sessions_used=0,
    )
    usable = _usable(sessions, nominal)
    if len(usable) < MIN_CALIBRATION_SESSIONS:
        return empty
    car = _car(usable, nominal)
    calibrations = _calibrations(car)
    if not calibrations:
        return empty
    log_eta = {
        t: _log_efficiency(car, c, np.arange(len(c.members))) for t, c in calibrations.items()
    }
    used = np.flatnonzero([("DC" if dc else "AC") in log_eta for dc in car.dc])
    if len(used) < len(car.sessions):  # drop a type never calibrated, keep day 0 at 0
        car = _car([car.sessions[i] for i in used], nominal)
        calibrations = _calibrations(car)
        log_eta = {
            t: _log_efficiency(car, c, np.arange(len(c.members))) for t, c in calibrations.items()
        }
        used = np.arange(len(car.sessions))
    fit = _fit(car, log_eta, used)
    rng = np.random.default_rng([seed, len(used)])
    soh_draws, slope_draws = _bootstrap(car, calibrations, used, rng, samples)
    tail = (1 - BAND) / 2 * 100
    soh_low, soh_high = np.percentile(soh_draws, [tail, 100 - tail])
    has_fade = car.days[-1] >= MIN_FADE_DAYS
    fade_low = fade_high = None
    if has_fade:
        slope_low, slope_high = np.percentile(slope_draws, [tail, 100 - tail])
        fade_low = -float(slope_high) * DAYS_PER_YEAR
        fade_high = -float(slope_low) * DAYS_PER_YEAR
    points = _soh_points(car, log_eta, used)
    return VehicleEstimate(
        vehicle_id=latest.vehicle_id,
        model=latest.model,
        nominal_kwh=nominal,
        sessions_total=len(sessions),
        sessions_used=len(used),
        as_of=car.sessions[-1].started_at,
        soh_percent=fit.soh_now,
        soh_low=min(float(soh_low), fit.soh_now),
        soh_high=max(float(soh_high), fit.soh_now),
        capacity_kwh=nominal * fit.soh_now / 100,
        fade_percent_per_year=-fit.slope * DAYS_PER_YEAR if has_fade else None,
        fade_low=fade_low,
        fade_high=fade_high,
        fade_percent_per_10000_km=None if fit.km_slope is None else -fit.km_slope * 10_000,
        efficiency={t: math.exp(v) for t, v in log_eta.items()},
        dc_share=float(np.mean(car.dc)),
        alerts=(LOW_SOH,) if fit.soh_now < LOW_SOH_PERCENT else (),
        trend=_monthly(car, points, used),
    )


# --- temperature ---------------------------------------------------------------------------


def _detrended(days: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.asarray(values - np.polyval(np.polyfit(days, values, 1), days))


def _temperature_residuals(
    sessions: Sequence[ChargeSession],
) -> tuple[np.ndarray, np.ndarray] | None:
    """One car's sessions with a battery temperature: how far each session's state of
    health (log) lies from the car's line, and its temperature, both with their own
    trend over time removed per charger type. The line has taken up the season's trend
    along with the fade; what is left moves with the temperature from day to day and
    month to month, and says how much a degree changes the efficiency."""
    nominal = max(sessions, key=lambda s: s.started_at).nominal_kwh
    usable = _usable(sessions, nominal)
    if len(usable) < MIN_CALIBRATION_SESSIONS:
        return None
    car = _car(usable, nominal)
    calibrations = _calibrations(car)
    if not calibrations or car.days[-1] < MIN_FADE_DAYS:
        return None
    log_eta = {
        t: _log_efficiency(car, c, np.arange(len(c.members))) for t, c in calibrations.items()
    }
    temperatures = np.array(
        [math.nan if s.battery_temp_c is None else s.battery_temp_c for s in car.sessions]
    )
    residuals, degrees = [], []
    for kind in log_eta:
        idx = np.flatnonzero((car.dc == (kind == "DC")) & ~np.isnan(temperatures))
        if len(idx) < MIN_CALIBRATION_SESSIONS or np.ptp(car.days[idx]) == 0:
            continue
        soh = _soh_points(car, log_eta, idx)
        intercept, slope = _line(car.days[idx], soh)
        line = intercept + slope * car.days[idx]
        if np.any(line <= 0):
            continue
        residuals.append(_detrended(car.days[idx], np.log(soh / line)))
        degrees.append(_detrended(car.days[idx], temperatures[idx]))
    if not residuals:
        return None
    return np.concatenate(residuals), np.concatenate(degrees)


def efficiency_per_degree(by_vehicle: dict[str, list[ChargeSession]]) -> float | None:
    """The fleet's efficiency change per °C of battery temperature (relative), from a
    Huber regression of the cars' detrended residuals on their detrended temperatures;
    None with fewer than `MIN_TEMPERATURE_SESSIONS` sessions or no spread in them."""
    parts = [r for r in map(_temperature_residuals, by_vehicle.values()) if r is not None]
    if not parts:
        return None
    residuals = np.concatenate([p[0] for p in parts])
    degrees = np.concatenate([p[1] for p in parts])
    if len(residuals) < MIN_TEMPERATURE_SESSIONS or np.std(degrees) < 0.5:
        return None
    from sklearn.linear_model import HuberRegressor  # only when there is something to fit

    fit = HuberRegressor().fit(degrees[:, None], residuals)
    # A more efficient (warmer) charge needs fewer kWh per percent: the session's state
    # of health reads low, so the residual falls as the efficiency rises.
    return -float(fit.coef_[0])


def at_reference_temperature(
    sessions: Sequence[ChargeSession], per_degree: float
) -> list[ChargeSession]:
    """The sessions' energies as if charged at `TEMPERATURE_REFERENCE_C`. A session
    without a temperature is taken at its car's median for its charger type."""
    known: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in sessions:
        if s.battery_temp_c is not None:
            known[s.vehicle_id, s.charger_type].append(s.battery_temp_c)
    medians = {key: float(np.median(values)) for key, values in known.items()}
    out = []
    for s in sessions:
        temperature = s.battery_temp_c
        if temperature is None:
            temperature = medians.get((s.vehicle_id, s.charger_type))
        if temperature is None:
            out.append(s)
            continue
        # warmer than the reference: more efficient, so more kWh would have been needed
        factor = math.exp(per_degree * (temperature - TEMPERATURE_REFERENCE_C))
        out.append(replace(s, energy_kwh=s.energy_kwh * factor))
    return out


# --- the fleet ---------------------------------------------------------------------------


def _with_peers(
    estimate: VehicleEstimate, median: float, mad: float | None, peers: int
) -> VehicleEstimate:
    if estimate.fade_percent_per_year is None or mad is None or mad == 0 or peers < MIN_PEERS:
        return estimate
    z = (estimate.fade_percent_per_year - median) / mad
    alerts = estimate.alerts
    # Faster than the peers by the fleet's own yardstick, and not by chance for this car.
    if z >= FAST_FADE_Z and estimate.fade_low is not None and estimate.fade_low > median:
        alerts = (*alerts, FAST_FADE)
    return replace(estimate, fade_z=z, alerts=alerts)


def estimate_fleet(
    sessions: Iterable[ChargeSession],
    *,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
    temperature: bool = True,
) -> FleetEstimate:
    """Every car's estimate, the fleet's fade rate, and the peer comparison.

    When the sessions carry the battery's temperature, the fleet first learns how much
    a degree changes the charging efficiency (`efficiency_per_degree`) and every
    session's energy is taken to a battery at 20 °C, so a season does not read as fade
    (docs/battery-health.md)."""
    by_vehicle: dict[str, list[ChargeSession]] = defaultdict(list)
    for s in sessions:
        by_vehicle[s.vehicle_id].append(s)
    per_degree = efficiency_per_degree(by_vehicle) if temperature else None
    if per_degree is not None:
        by_vehicle = {
            v: at_reference_temperature(rows, per_degree) for v, rows in by_vehicle.items()
        }
    estimates = {
        vehicle_id: estimate_vehicle(rows, seed=seed, samples=samples)
        for vehicle_id, rows in sorted(by_vehicle.items())
    }
    fades = np.array(
        [e.fade_percent_per_year for e in estimates.values() if e.fade_percent_per_year is not None]
    )
    if len(fades) == 0:
        return FleetEstimate(estimates, None, None, None, per_degree)
    median = float(np.median(fades))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(fades - median)))
    estimates = {
        v: _with_peers(e, median, mad if len(fades) >= MIN_PEERS else None, len(fades))
        for v, e in estimates.items()
    }
    return FleetEstimate(estimates, float(np.mean(fades)), median, mad, per_degree)
