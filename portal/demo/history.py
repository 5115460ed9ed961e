"""Demo activity history: daily kilometres and depot charging sessions for the weeks of
the demo ledger, so the dashboard's km, energy and charging panels have something to
show on a fresh `flask seed-demo` (called by `portal.demo.seed.seed_demo`, after the ledger,
the chargers and the bookings).

- Kilometres go where the telemetry rollups write them (`vehicle_daily_km`, one row per
  car and closed local day, odometer readings that add up): for every car under an
  active contract, from the later of the contract's start and the history's first day
  to yesterday, 90 to 270 km a day with about one day in seven parked. In bulk SQL,
  deterministic (a hash of the car and the day, not a random generator).
- Charging sessions go where the CSMS writes them (`charging_sessions`, completed, with
  meter readings, price and cost, and `ledger_entry_id`): one per energy charge the demo
  ledger posted at a depot ("Carga en depósito"), at one of the car's depot's
  connectors, ending when the charge was posted, with the charge's kWh and amount at
  about 35 kW. So the dashboard's energy matches what drivers were billed.

Idempotent: km rows that exist are kept; an energy charge that already has its session
is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from portal.demo.ledger import HISTORY_WEEKS, PRICE_PER_KWH_CENTS
from portal.models import (
    Charger,
    ChargerConnector,
    ChargingSession,
    Contract,
    EntryKind,
    LedgerEntry,
    SessionStatus,
    Vehicle,
)

DEMO_ENERGY_PREFIX = "Carga en depósito"
AVERAGE_KW = 35

DAILY_KM_SQL = """
WITH days AS (
  SELECT v.id AS vehicle_id, d::date AS day,
         abs(hashtext(v.vin || d::date::text)) AS h
  FROM vehicles v
  JOIN contracts k ON k.vehicle_id = v.id AND k.status = 'active'
  CROSS JOIN generate_series(:first, :last, interval '1 day') AS d
  WHERE d::date >= k.starts_on
), km AS (
  SELECT vehicle_id, day,
         CASE WHEN h % 7 = 0 THEN 0 ELSE 90000 + (h / 7) % 180000 END AS metres
  FROM days
), odometer AS (
  SELECT vehicle_id, day, metres,
         20000000 + vehicle_id * 7919 % 15000000
           + sum(metres) OVER (PARTITION BY vehicle_id ORDER BY day) AS last_m
  FROM km
)
INSERT INTO vehicle_daily_km (vehicle_id, day, km, first_odometer_m, last_odometer_m)
SELECT vehicle_id, day, round(metres / 1000.0, 1), last_m - metres, last_m
FROM odometer
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    km_rows: int
    sessions: int


def seed_activity_history(
    session: Session, today: date, weeks: int = HISTORY_WEEKS
) -> ActivitySummary:
    """Add what is missing of the demo's daily km and charging sessions. Flushes only."""
    first = today - timedelta(weeks=weeks)
    km_rows: int = session.execute(
        text(DAILY_KM_SQL), {"first": first, "last": today - timedelta(days=1)}
    ).rowcount  # type: ignore[attr-defined]
    return ActivitySummary(km_rows=km_rows, sessions=_seed_sessions(session))


def _seed_sessions(session: Session) -> int:
    connectors: dict[int | None, list[tuple[int, int, int]]] = {}
    for depot_id, charger_id, connector_id, evse_id in session.execute(
        select(Charger.depot_id, Charger.id, ChargerConnector.id, ChargerConnector.evse_id)
        .join(ChargerConnector, ChargerConnector.charger_id == Charger.id)
        .where(Charger.depot_id.is_not(None))
        .order_by(Charger.id, ChargerConnector.id)
    ):
        connectors.setdefault(depot_id, []).append((charger_id, connector_id, evse_id))
    billed = select(ChargingSession.ledger_entry_id).where(
        ChargingSession.ledger_entry_id.is_not(None)
    )
    charges = session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.driver_id,
            LedgerEntry.contract_id,
            LedgerEntry.amount_cents,
            LedgerEntry.posted_at,
            Contract.vehicle_id,
            Vehicle.depot_id,
        )
        .join(Contract, Contract.id == LedgerEntry.contract_id)
        .join(Vehicle, Vehicle.id == Contract.vehicle_id)
        .where(
            LedgerEntry.kind == EntryKind.ENERGY,
            LedgerEntry.description.startswith(DEMO_ENERGY_PREFIX),
            LedgerEntry.id.not_in(billed),
        )
        .order_by(LedgerEntry.posted_at, LedgerEntry.id)
    ).all()
    meters: dict[int, int] = {}  # each connector's energy register, Wh
    rows = []
    for entry_id, driver_id, contract_id, cents, stopped, vehicle_id, depot_id in charges:
        choices = connectors.get(depot_id)
        if not choices:
            continue
        charger_id, connector_id, evse_id = choices[entry_id % len(choices)]
        wh = round(cents * 1000 / PRICE_PER_KWH_CENTS)
        start_wh = meters.get(connector_id, 1_000_000 + connector_id * 100_000)
        meters[connector_id] = start_wh + wh
        rows.append(
            {
                "charger_id": charger_id,
                "connector_id": connector_id,
                "evse_id": evse_id,
                "transaction_id": f"demo-{entry_id}",
                "driver_id": driver_id,
                "vehicle_id": vehicle_id,
                "contract_id": contract_id,
                "status": SessionStatus.COMPLETED,
                "started_at": stopped - timedelta(hours=wh / 1000 / AVERAGE_KW),
                "stopped_at": stopped,
                "meter_start_wh": start_wh,
                "meter_stop_wh": start_wh + wh,
                "energy_wh": wh,
                "last_meter_wh": start_wh + wh,
                "stop_reason": "EVDisconnected",
                "price_per_kwh_cents": PRICE_PER_KWH_CENTS,
                "cost_cents": cents,
                "ledger_entry_id": entry_id,
                "created_at": stopped,
            }
        )
    if rows:
        session.execute(insert(ChargingSession), rows)
    return len(rows)
