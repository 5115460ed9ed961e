"""The demo's daily km and charging sessions, and the dashboard they fill."""

from datetime import timedelta

from sqlalchemy import func, select

from portal.demo.history import seed_activity_history
from portal.demo.seed import seed_demo
from portal.models import ChargingSession, LedgerEntry, VehicleDailyKm
from portal.services.kpis.charging import charging_panel
from portal.services.kpis.daily import daily_figures
from portal.services.kpis.energy import energy_panel
from portal.services.kpis.km import km_per_car
from portal.timeutil import local_today, monday_of


def test_the_demo_has_weeks_of_km_and_sessions_and_a_populated_dashboard(db):
    today = local_today()
    seed_demo(db, vehicles=30, today=today)

    assert seed_activity_history(db, today).sessions == 0  # idempotent
    km_rows = db.scalar(select(func.count()).select_from(VehicleDailyKm))
    assert seed_activity_history(db, today).km_rows == 0
    assert km_rows > 20 * 7 * 10  # 20-odd cars under contract, 12 weeks, some parked days
    assert db.scalar(select(func.max(VehicleDailyKm.day))) == today - timedelta(days=1)
    # The odometer adds up, car by car: each day starts where the one before ended.
    previous = func.lag(VehicleDailyKm.last_odometer_m).over(
        partition_by=VehicleDailyKm.vehicle_id, order_by=VehicleDailyKm.day
    )
    steps = select(VehicleDailyKm.first_odometer_m, previous.label("previous")).subquery()
    assert db.scalar(select(func.count()).where(steps.c.first_odometer_m != steps.c.previous)) == 0

    # Every session is the energy charge the driver was billed for.
    sessions = db.execute(
        select(
            ChargingSession.cost_cents, LedgerEntry.amount_cents, ChargingSession.stopped_at
        ).join(LedgerEntry, LedgerEntry.id == ChargingSession.ledger_entry_id)
    ).all()
    assert len(sessions) > 100
    assert all(cost == amount for cost, amount, _ in sessions)

    # The dashboard shows the last full week from the rollup, not zeros.
    monday = monday_of(today) - timedelta(days=7)
    sunday = monday + timedelta(days=6)
    days = daily_figures(db, monday, sunday, None)
    assert days.live_days == 0
    assert km_per_car(db, monday, sunday, None, days).km_per_car_day > 90
    charging = charging_panel(db, monday, sunday, None, days)
    assert charging.sessions > 20
    assert max(u for _h, u in charging.hourly) > 0
    assert energy_panel(db, monday, sunday, None, days).kwh > 100
