"""A synthetic population of ride-hailing driver applicants. SYNTHETIC DATA, NOT REAL DRIVERS.

Every row carries ``synthetic = True`` and a ``driver_id`` starting with ``SINTETICO-``;
use it to build and test the driver model until our own repayment data exists.

Assumptions (Mexico City, 2025, weekly figures in MXN; all stated, none measured):

- Gross weekly platform earnings are log-normal around 6,500 MXN (full-time drivers
  8,000-10,000, part-time 3,000-4,000); their week-to-week coefficient of variation is
  0.1-0.7, higher for part-timers.
- Trips per week are earnings / average fare (about 95 MXN, +-15 %).
- Tenure on the platform: exponential, mean 24 months. Rating 4.5-5.0, higher with
  tenure. Acceptance rate 50-100 %; cancellation rate 0-20 %, higher when acceptance is low.
- 30 % of applicants owe the platform money (log-normal, median 600 MXN).
- 25 % are renewals: they have our own worst days past due on the previous lease
  (0 for most, up to 60) and average km per day (120-260); first-time applicants have
  these missing.
- Sex and age are generated for fairness monitoring only; they do not enter the label.
- Label ``incumplimiento`` (1 = 4 or more weekly payments missed within 26 weeks) drawn
  from a logistic model: risk falls with earnings (log), tenure, rating, acceptance,
  trips and km/day; rises with earnings volatility, cancellations, platform debt and our
  own past days past due. The intercept is solved so the default rate is ``default_rate``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "incumplimiento"

#: Spanish labels of the characteristics (for reason codes).
DRIVER_LABELS: dict[str, str] = {
    "weekly_earnings_mxn": "Ingresos semanales en las plataformas",
    "earnings_cv": "Variabilidad de los ingresos semanales",
    "weekly_trips": "Viajes por semana",
    "tenure_months": "Antigüedad en las plataformas",
    "rating": "Calificación de pasajeros",
    "acceptance_rate": "Tasa de aceptación de viajes",
    "cancellation_rate": "Tasa de cancelación",
    "platform_debt_mxn": "Deuda pendiente con la plataforma",
    "max_days_past_due": "Atrasos en el arrendamiento anterior",
    "km_per_day": "Kilómetros diarios en el arrendamiento anterior",
}

#: Spanish reason sentences: what an applicant is told when a characteristic costs points.
DRIVER_REASON_TEMPLATES: dict[str, str] = {
    "weekly_earnings_mxn": "Ingresos semanales bajos en las plataformas (%(bin)s MXN)",
    "earnings_cv": "Ingresos semanales poco estables",
    "weekly_trips": "Pocos viajes por semana (%(bin)s)",
    "tenure_months": "Poca antigüedad en las plataformas (%(bin)s meses)",
    "rating": "Calificación de pasajeros baja (%(bin)s)",
    "acceptance_rate": "Tasa de aceptación de viajes baja",
    "cancellation_rate": "Tasa de cancelación alta",
    "platform_debt_mxn": "Deuda pendiente con la plataforma",
    "max_days_past_due": "Atrasos en los pagos del arrendamiento anterior",
    "km_per_day": "Pocos kilómetros diarios en el arrendamiento anterior",
}

#: +1: risk grows with the value; -1: risk falls. Used as monotone constraints.
DRIVER_RISK_DIRECTION: dict[str, int] = {
    "weekly_earnings_mxn": -1,
    "earnings_cv": 1,
    "weekly_trips": -1,
    "tenure_months": -1,
    "rating": -1,
    "acceptance_rate": -1,
    "cancellation_rate": 1,
    "platform_debt_mxn": 1,
    "max_days_past_due": 1,
    "km_per_day": -1,
}


def generate_drivers(n: int = 5000, *, seed: int = 0, default_rate: float = 0.15) -> pd.DataFrame:
    """``n`` synthetic driver applications with the label ``incumplimiento`` (seeded)."""
    rng = np.random.default_rng(seed)
    full_time = rng.random(n) < 0.6
    earnings = np.exp(rng.normal(np.where(full_time, np.log(8500), np.log(3800)), 0.3))
    cv = np.clip(rng.normal(np.where(full_time, 0.25, 0.45), 0.12), 0.05, 0.9)
    fare = 95 * rng.uniform(0.85, 1.15, n)
    trips = np.rint(earnings / fare)
    tenure = np.rint(rng.exponential(24, n) + 1)
    rating = np.clip(4.75 + 0.04 * np.log1p(tenure) + rng.normal(0, 0.1, n), 4.5, 5.0)
    acceptance = np.clip(rng.beta(8, 2, n), 0.5, 1.0)
    cancellation = np.clip(rng.beta(2, 30, n) + 0.15 * (1 - acceptance), 0, 0.2)
    debt = np.where(rng.random(n) < 0.3, np.exp(rng.normal(np.log(600), 0.8, n)), 0.0)
    renewal = rng.random(n) < 0.25
    dpd = np.where(renewal, np.where(rng.random(n) < 0.7, 0, rng.integers(1, 61, n)), np.nan)
    km = np.where(renewal, rng.uniform(120, 260, n), np.nan)
    logit = (
        -1.3 * (np.log(earnings) - np.log(6500))
        + 2.0 * (cv - 0.33)
        - 0.004 * (trips - 70)
        - 0.35 * np.log1p(tenure / 12)
        - 2.0 * (rating - 4.85)
        - 1.5 * (acceptance - 0.8)
        + 5.0 * (cancellation - 0.06)
        + 0.25 * np.log1p(debt / 500)
        + np.where(renewal, 0.05 * np.nan_to_num(dpd) - 0.006 * (np.nan_to_num(km) - 190), 0)
    )
    lo, hi = -10.0, 10.0
    for _ in range(60):  # intercept giving the requested default rate
        mid = (lo + hi) / 2
        rate = float(np.mean(1 / (1 + np.exp(-(logit + mid)))))
        lo, hi = (mid, hi) if rate < default_rate else (lo, mid)
    label = (rng.random(n) < 1 / (1 + np.exp(-(logit + lo)))).astype("int64")
    return pd.DataFrame(
        {
            "driver_id": [f"SINTETICO-{seed}-{i:06d}" for i in range(n)],
            "synthetic": True,
            "weekly_earnings_mxn": np.round(earnings, 0),
            "earnings_cv": np.round(cv, 3),
            "weekly_trips": trips,
            "tenure_months": tenure,
            "rating": np.round(rating, 2),
            "acceptance_rate": np.round(acceptance, 3),
            "cancellation_rate": np.round(cancellation, 3),
            "platform_debt_mxn": np.round(debt, 0),
            "max_days_past_due": dpd,
            "km_per_day": np.round(km, 1),
            "sexo": rng.choice(["M", "F"], n, p=[0.85, 0.15]),
            "edad": rng.integers(21, 66, n),
            TARGET: label,
        }
    )
