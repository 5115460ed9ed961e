"""The demo's history is the demo world's: billed charges, km, and a week of telemetry
with its trips and charging that add up, and a dashboard that shows them."""

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.demo.seed import seed_demo
from portal.demo.world import load_world, world_day
from portal.models import (
    ChargingEpisode,
    ChargingSession,
    Contract,
    ContractStatus,
    EntryKind,
    LedgerEntry,
    TelemetryReading,
    Vehicle,
    VehicleDailyKm,
    VehicleState,
    VehicleTrip,
)
from portal.services.kpis.charging import charging_panel
from portal.services.kpis.daily import daily_figures
from portal.services.kpis.energy import energy_panel
from portal.services.kpis.km import km_per_car
from portal.services.telemetry_rollups import derive_activity, local_day_bounds
from portal.timeutil import local_date, local_today, monday_of


@pytest.fixture
def demo(db, clock):
    clock.pin(datetime.now(UTC))  # seeding again at the same moment adds nothing
    today = local_today()
    seed_demo(db, vehicles=30, today=today)
    return today


def test_the_demo_has_weeks_of_km_and_billed_sessions_and_a_populated_dashboard(db, demo):
    today = demo
    counts = [
        db.scalar(select(func.count()).select_from(t))
        for t in (VehicleDailyKm, ChargingSession, LedgerEntry, TelemetryReading, VehicleTrip)
    ]
    seed_demo(db, vehicles=30, today=today)
    assert [
        db.scalar(select(func.count()).select_from(t))
        for t in (VehicleDailyKm, ChargingSession, LedgerEntry, TelemetryReading, VehicleTrip)
    ] == counts  # seeding again adds nothing

    assert counts[0] > 20 * 7 * 10  # 20-odd cars under contract, 12 weeks
    assert db.scalar(select(func.max(VehicleDailyKm.day))) == today - timedelta(days=1)
    # The odometer adds up, car by car: each day starts where the one before ended.
    previous = func.lag(VehicleDailyKm.last_odometer_m).over(
        partition_by=VehicleDailyKm.vehicle_id, order_by=VehicleDailyKm.day
    )
    steps = select(VehicleDailyKm.first_odometer_m, previous.label("previous")).subquery()
    assert db.scalar(select(func.count()).where(steps.c.first_odometer_m != steps.c.previous)) == 0

    # Every session is the energy charge the driver was billed for, and every energy
    # charge is a session.
    billed = db.execute(
        select(ChargingSession.cost_cents, LedgerEntry.amount_cents, LedgerEntry.driver_id).join(
            LedgerEntry, LedgerEntry.id == ChargingSession.ledger_entry_id
        )
    ).all()
    assert len(billed) > 200
    assert all(cost == amount for cost, amount, _ in billed)
    energy_entries = db.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.ENERGY))
    assert energy_entries == len(billed)

    # The dashboard shows the last full week from the rollup, not zeros.
    monday = monday_of(today) - timedelta(days=7)
    sunday = monday + timedelta(days=6)
    days = daily_figures(db, monday, sunday, None)
    assert days.live_days == 0
    assert 120 < km_per_car(db, monday, sunday, None, days).km_per_car_day < 260
    charging = charging_panel(db, monday, sunday, None, days)
    assert charging.sessions > 100  # a charge a working day for each car
    assert max(u for _h, u in charging.hourly) > 0
    energy = energy_panel(db, monday, sunday, None, days)
    # The energy the cars took is what their km needed: 0.12-0.15 kWh/km at the battery.
    km = db.scalar(
        select(func.sum(VehicleDailyKm.km)).where(VehicleDailyKm.day.between(monday, sunday))
    )
    assert 0.11 < float(energy.kwh) / float(km) < 0.19


def test_a_car_has_a_week_of_readings_trips_and_charging_that_add_up(db, demo):
    today = demo
    car = db.scalar(
        select(Vehicle)
        .join(Contract, Contract.vehicle_id == Vehicle.id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(Vehicle.id)
    )
    since = local_day_bounds(today - timedelta(days=7))[0]
    times = db.scalars(
        select(TelemetryReading.device_time)
        .where(TelemetryReading.imei == car.tracker_imei, TelemetryReading.device_time >= since)
        .order_by(TelemetryReading.device_time)
    ).all()
    assert len(times) > 7 * 250
    driving = db.execute(
        select(TelemetryReading.device_time, TelemetryReading.ignition, TelemetryReading.speed)
        .where(TelemetryReading.imei == car.tracker_imei, TelemetryReading.device_time >= since)
        .order_by(TelemetryReading.device_time)
    ).all()
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(driving) if a[1] and b[1]]
    assert gaps
    assert max(gaps) <= 60.5  # every 30-60 s while driving
    assert max((b - a).total_seconds() for a, b in itertools.pairwise(times)) <= 30 * 60 + 1

    state = db.get(VehicleState, car.id)
    assert state is not None
    assert state.device_time == times[-1]

    # Trips add up to the day's km; each charging episode is a billed session at its depot.
    trips = db.scalars(
        select(VehicleTrip).where(VehicleTrip.vehicle_id == car.id, VehicleTrip.started_at >= since)
    ).all()
    assert len(trips) > 20
    per_day: dict = defaultdict(float)
    for trip in trips:
        per_day[local_date(trip.started_at)] += trip.distance_m / 1000
    km = dict(
        db.execute(
            select(VehicleDailyKm.day, VehicleDailyKm.km).where(
                VehicleDailyKm.vehicle_id == car.id, VehicleDailyKm.day >= since.date()
            )
        ).all()
    )
    for day, driven in per_day.items():
        if day in km and day < today:
            assert driven == pytest.approx(float(km[day]), abs=1.0)
    episodes = db.scalars(
        select(ChargingEpisode).where(
            ChargingEpisode.vehicle_id == car.id, ChargingEpisode.started_at >= since
        )
    ).all()
    sessions = db.scalars(
        select(ChargingSession).where(
            ChargingSession.vehicle_id == car.id, ChargingSession.started_at >= since
        )
    ).all()
    assert len(episodes) >= 4
    assert len(episodes) == len(sessions)
    for episode, charged in zip(
        sorted(episodes, key=lambda e: e.started_at),
        sorted(sessions, key=lambda s: s.started_at),
        strict=True,
    ):
        assert abs((episode.started_at - charged.started_at).total_seconds()) < 60
        assert episode.depot_id == car.depot_id
        assert charged.ledger_entry_id is not None

    # The rollup, run over the stored readings, finds the same trips.
    seeded = sorted((t.started_at, t.distance_m) for t in trips)
    derive_activity(db, car.id, max(times) + timedelta(seconds=1), lookback=timedelta(days=8))
    again = db.scalars(
        select(VehicleTrip).where(VehicleTrip.vehicle_id == car.id, VehicleTrip.started_at >= since)
    ).all()
    assert sorted((t.started_at, t.distance_m) for t in again) == seeded


def test_the_history_is_the_worlds(db, demo):
    """What the telemetry says at any moment is what the plan says (the simulators
    carry on from it)."""
    world = load_world(db)
    reading = db.execute(
        select(TelemetryReading, Vehicle.id)
        .join(Vehicle, Vehicle.tracker_imei == TelemetryReading.imei)
        .where(TelemetryReading.charging.is_(True))
        .order_by(TelemetryReading.device_time.desc())
        .limit(1)
    ).one()
    row, vehicle_id = reading
    moment = world.car_at(vehicle_id, row.device_time)
    assert moment.charging
    assert row.soc_pct == round(moment.soc)
    assert world_day(row.device_time) <= demo


def test_the_month_s_cfe_bill_reads_the_history_s_meter_values(db, demo):
    """The energy a depot's chargers metered in the last full month is the energy of
    the sessions that ended in it, and the bill prices all of it."""
    from portal.models import Charger, Depot, MeterValue
    from portal.services.charging.bill import month_bill

    today = demo
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    registers = db.execute(
        select(
            ChargingSession.meter_start_wh,
            ChargingSession.meter_stop_wh,
            func.min(MeterValue.value),
            func.max(MeterValue.value),
        )
        .join(MeterValue, MeterValue.session_id == ChargingSession.id)
        .where(MeterValue.measurand == "Energy.Active.Import.Register")
        .group_by(ChargingSession.id)
    ).all()
    assert len(registers) == db.scalar(select(func.count(ChargingSession.id)))
    assert all(lo == first and hi == last for first, last, lo, hi in registers)

    for depot in db.scalars(select(Depot)):
        bill = month_bill(db, depot, month)
        sessions_wh = db.scalar(
            select(func.sum(ChargingSession.energy_wh))
            .join(Charger, Charger.id == ChargingSession.charger_id)
            .where(
                Charger.depot_id == depot.id,
                ChargingSession.started_at >= bill.start,
                ChargingSession.stopped_at < bill.until,
            )
        )
        metered = sum(bill.kwh_by_period.values())
        assert metered > 1000  # a month of a depot's cars
        # The same energy, but for the sessions across the month's first midnight.
        assert abs(metered - float(sessions_wh) / 1000) < 0.02 * metered
        assert bill.unpriced_kwh == 0
        assert bill.max_demand_kw > 0
