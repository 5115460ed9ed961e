"""Battery health: each car's state of health from what the chargers delivered and
what its tracker saw (docs/battery-health.md).

Engine code: no Flask, and no database but in `store` (imported on its own).
`portal.services.battery` joins the sessions from the database, `store` runs the
estimator over them and stores the estimates; `python -m telemetry.battery`
runs the same estimator on a CSV file.
"""

from .estimator import (
    FAST_FADE,
    LOW_SOH,
    FleetEstimate,
    MonthPoint,
    VehicleEstimate,
    estimate_fleet,
    estimate_vehicle,
)
from .sessions import CSV_COLUMNS, ChargerType, ChargeSession, read_sessions, write_sessions
from .simulate import SimulatedCar, draw_car, simulate_fleet, true_capacity_kwh

__all__ = [
    "CSV_COLUMNS",
    "FAST_FADE",
    "LOW_SOH",
    "ChargeSession",
    "ChargerType",
    "FleetEstimate",
    "MonthPoint",
    "SimulatedCar",
    "VehicleEstimate",
    "draw_car",
    "estimate_fleet",
    "estimate_vehicle",
    "read_sessions",
    "simulate_fleet",
    "true_capacity_kwh",
    "write_sessions",
]
