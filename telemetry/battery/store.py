"""Battery health's storage: the usable `battery_sessions` rows handed to the estimator,
each vehicle's estimate stored in `battery_estimates`, and the nightly work
(`workers.battery`). The join of sessions to cars is `portal.services.battery`; the
screens read the estimates through it. Functions flush and never commit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import BatteryEstimate, BatterySession
from portal.services.battery import refresh_battery_sessions

from .estimator import FAST_FADE, LOW_SOH, FleetEstimate, estimate_fleet
from .sessions import ChargeSession


def list_estimator_sessions(session: Session) -> list[ChargeSession]:
    """The usable `battery_sessions` rows as the estimator reads them."""
    b = BatterySession
    rows = session.scalars(select(b).where(b.usable).order_by(b.vehicle_id, b.started_at))
    sessions = []
    for row in rows:
        # usable rows have a car, both readings and a charger type (`_row_values`)
        if row.vehicle_id is None or row.soc_start_pct is None or row.soc_end_pct is None:
            continue
        sessions.append(
            ChargeSession(
                vehicle_id=str(row.vehicle_id),
                model=row.model or "",
                nominal_kwh=float(row.nominal_kwh or 0),
                started_at=row.started_at,
                ended_at=row.ended_at,
                energy_kwh=float(row.energy_kwh),
                soc_start=float(row.soc_start_pct),
                soc_end=float(row.soc_end_pct),
                charger_type="DC" if row.charger_type == "DC" else "AC",
                odometer_km=None if row.odometer_km is None else float(row.odometer_km),
                battery_temp_c=None if row.battery_temp_c is None else float(row.battery_temp_c),
            )
        )
    return sessions


def refresh_battery_estimates(session: Session, *, seed: int = 0) -> int:
    """Run the estimator over every vehicle's usable sessions and store each vehicle's
    estimate (replacing the previous one; vehicles without usable sessions lose theirs).
    Returns the number of vehicles estimated."""
    return store_battery_estimates(
        session, estimate_fleet(list_estimator_sessions(session), seed=seed)
    )


def store_battery_estimates(session: Session, fleet: FleetEstimate) -> int:
    """Replace every stored estimate with the fleet's (its vehicle ids are the vehicles'
    ids as text). Returns the number of vehicles stored."""
    now = utcnow()
    session.execute(delete(BatteryEstimate))
    for vehicle_id, e in fleet.vehicles.items():
        session.add(
            BatteryEstimate(
                vehicle_id=int(vehicle_id),
                estimated_at=now,
                as_of=e.as_of,
                model=e.model,
                nominal_kwh=e.nominal_kwh,
                sessions_total=e.sessions_total,
                sessions_used=e.sessions_used,
                soh_percent=e.soh_percent,
                soh_low=e.soh_low,
                soh_high=e.soh_high,
                capacity_kwh=e.capacity_kwh,
                fade_percent_per_year=e.fade_percent_per_year,
                fade_low=e.fade_low,
                fade_high=e.fade_high,
                fade_percent_per_10000_km=e.fade_percent_per_10000_km,
                efficiency_ac=e.efficiency.get("AC"),
                efficiency_dc=e.efficiency.get("DC"),
                dc_share=e.dc_share,
                fade_z=e.fade_z,
                low_soh=LOW_SOH in e.alerts,
                fast_fade=FAST_FADE in e.alerts,
                trend=[
                    {"month": p.month, "soh_percent": p.soh_percent, "sessions": p.sessions}
                    for p in e.trend
                ],
            )
        )
    session.flush()
    return len(fleet.vehicles)


def refresh_battery_health(session: Session, *, lookback: timedelta = timedelta(days=7)) -> int:
    """The nightly work: the sessions of the last `lookback` (all of them the first time,
    when the table is empty), then every vehicle's estimate. Returns vehicles estimated."""
    first_time = session.scalar(select(func.count()).select_from(BatterySession)) == 0
    refresh_battery_sessions(session, since=None if first_time else utcnow() - lookback)
    return refresh_battery_estimates(session)
