"""The battery join on real PostgreSQL rows: each completed charging session tied to the
car plugged in, with its tracker's state of charge before and after; then the estimates
and what the screens read of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from redis import Redis
from rq import Queue, SimpleWorker, cron
from sqlalchemy import select

from portal.models import (
    BatteryEstimate,
    BatterySession,
    Booking,
    ChargingEpisode,
    ConnectorType,
    IdTag,
    SessionStatus,
    VehicleMatch,
)
from portal.services import battery
from telemetry import store as ingest
from telemetry.battery import FAST_FADE, LOW_SOH, store
from telemetry.codec import make_record
from tests.servers import TEST_REDIS
from workers.battery import refresh_battery_health_job

DEPOT = (19.4895, -99.1468)
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 22:00 in Mexico City
LATEST = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


@pytest.fixture
def depot(make_depot):
    return make_depot(latitude=Decimal(str(DEPOT[0])), longitude=Decimal(str(DEPOT[1])))


@pytest.fixture
def reading(db):
    """Store one tracker reading of a car: state of charge, odometer in metres."""

    def store(vehicle, at, soc, odometer_m=12_000_000, io=None):
        record = make_record(
            at,
            latitude=DEPOT[0],
            longitude=DEPOT[1],
            satellites=9,
            io={152: soc, 87: odometer_m, **(io or {})},
        )
        ingest.store_records(db, [(vehicle.tracker_imei, record)], at)

    return store


@pytest.fixture
def completed(db, make_charging_session):
    """A completed session on a charger: `kwh` delivered from `start` for `hours`."""

    def make(charger, start=T0, hours=1.0, kwh="20.500", **kw):
        wh = int(Decimal(kwh) * 1000)
        return make_charging_session(
            charger,
            started_at=start,
            stopped_at=start + timedelta(hours=hours),
            status=SessionStatus.COMPLETED,
            meter_start_wh=1_000_000,
            meter_stop_wh=1_000_000 + wh,
            energy_wh=wh,
            **kw,
        )

    return make


def episode(db, vehicle, depot, start, end):
    """What the telemetry rollup derives when a tracker shows the car charging."""
    db.add(
        ChargingEpisode(
            vehicle_id=vehicle.id,
            started_at=start,
            ended_at=end,
            start_soc_pct=30,
            end_soc_pct=80,
            latitude=DEPOT[0],
            longitude=DEPOT[1],
            depot_id=depot.id,
        )
    )
    db.flush()


def row_of(db, charging_session):
    return db.get(BatterySession, charging_session.id)


def test_a_booked_session_gets_the_last_reading_before_and_the_first_after(
    db, depot, make_vehicle, make_driver, make_charger, completed, reading
):
    car = make_vehicle(depot=depot)
    charger = make_charger(depot=depot)  # 60 kW connector: DC
    session = completed(charger, kwh="20.500")
    db.add(
        Booking(
            driver_id=make_driver().id,
            vehicle_id=car.id,
            depot_id=depot.id,
            connector_type=ConnectorType.CCS2,
            window_start=T0,
            window_end=T0 + timedelta(hours=1),
            session_id=session.id,
        )
    )
    reading(car, T0 - timedelta(minutes=40), 35, odometer_m=12_340_000)
    reading(car, T0 - timedelta(minutes=5), 31, odometer_m=12_350_400, io={151: 215})
    reading(car, T0 + timedelta(minutes=30), 55)  # during the session: not an end
    reading(car, T0 + timedelta(minutes=63), 82)
    reading(car, T0 + timedelta(minutes=90), 79)
    episode(db, car, depot, T0 + timedelta(minutes=1), T0 + timedelta(minutes=59))

    assert battery.refresh_battery_sessions(db) == 1

    row = row_of(db, session)
    assert row.vehicle_id == car.id
    assert row.matched_by == VehicleMatch.BOOKING
    assert row.tracker_confirmed is True
    assert (row.soc_start_pct, row.soc_end_pct) == (31, 82)
    assert row.soc_start_at == T0 - timedelta(minutes=5)
    assert row.soc_end_at == T0 + timedelta(minutes=63)
    assert row.odometer_km == Decimal("12350.4")
    assert row.battery_temp_c == Decimal("21.5")  # IO 151, 0.1 °C
    assert row.energy_kwh == Decimal("20.500")
    assert row.charger_type == "DC"
    assert row.depot_id == depot.id
    assert row.model == "BYD Dolphin Mini"
    assert row.nominal_kwh == Decimal("38.8")
    assert row.usable is True


def test_the_card_finds_the_car_of_the_contract_held_that_day(
    db, depot, make_contract, make_charger, completed, reading
):
    contract = make_contract(starts_on=T0.date() - timedelta(days=30))
    db.add(IdTag(tag="CARD-7", driver_id=contract.driver_id))
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "7.4")])
    # The card was not known when the charger started: the session has no car yet.
    session = completed(charger, hours=3, kwh="18.000", id_tag="CARD-7")
    reading(contract.vehicle, T0 - timedelta(minutes=2), 20)
    reading(contract.vehicle, T0 + timedelta(hours=3, minutes=1), 70)

    battery.refresh_battery_sessions(db)

    row = row_of(db, session)
    assert row.vehicle_id == contract.vehicle_id
    assert row.matched_by == VehicleMatch.ID_TAG
    assert row.tracker_confirmed is False  # no charging seen by the tracker
    assert row.charger_type == "AC"
    assert row.usable is True


def test_the_session_record_of_the_car_counts_as_the_card(
    db, depot, make_vehicle, make_charger, completed
):
    car = make_vehicle(depot=depot)
    session = completed(make_charger(depot=depot), vehicle_id=car.id, id_tag="CARD-8")
    battery.refresh_battery_sessions(db)
    row = row_of(db, session)
    assert (row.vehicle_id, row.matched_by) == (car.id, VehicleMatch.ID_TAG)
    assert row.soc_start_pct is None
    assert row.usable is False  # no tracker readings


def test_without_booking_or_card_the_one_car_seen_charging_there_is_the_car(
    db, depot, make_vehicle, make_charger, completed, reading
):
    car, other = make_vehicle(depot=depot), make_vehicle(depot=depot)
    charger = make_charger(depot=depot)
    session = completed(charger, id_tag="UNKNOWN")
    episode(db, car, depot, T0 - timedelta(minutes=2), T0 + timedelta(minutes=58))
    episode(db, other, depot, T0 + timedelta(hours=3), T0 + timedelta(hours=4))  # later
    reading(car, T0 - timedelta(minutes=3), 40)
    reading(car, T0 + timedelta(minutes=61), 88)

    battery.refresh_battery_sessions(db)

    row = row_of(db, session)
    assert (row.vehicle_id, row.matched_by) == (car.id, VehicleMatch.TRACKER)
    assert row.tracker_confirmed is True
    assert row.usable is True


def test_two_cars_seen_charging_at_once_leave_the_session_without_a_car(
    db, depot, make_vehicle, make_charger, completed
):
    cars = [make_vehicle(depot=depot), make_vehicle(depot=depot)]
    session = completed(make_charger(depot=depot))
    for car in cars:
        episode(db, car, depot, T0, T0 + timedelta(hours=1))
    battery.refresh_battery_sessions(db)
    row = row_of(db, session)
    assert (row.vehicle_id, row.matched_by, row.usable) == (None, VehicleMatch.NONE, False)
    assert row.tracker_confirmed is None


def test_readings_far_from_the_session_are_kept_but_not_usable(
    db, depot, make_vehicle, make_charger, completed, reading
):
    car = make_vehicle(depot=depot)
    session = completed(make_charger(depot=depot), vehicle_id=car.id)
    reading(car, T0 - timedelta(hours=3), 30)  # the car may have driven since
    reading(car, T0 + timedelta(hours=1, minutes=5), 80)
    battery.refresh_battery_sessions(db)
    row = row_of(db, session)
    assert (row.soc_start_pct, row.soc_end_pct) == (30, 80)
    assert row.usable is False


@pytest.mark.parametrize(
    ("rated_kw", "hours", "kwh", "expected"),
    [
        ("7.4", 3.0, "20.000", "AC"),
        ("22", 1.0, "20.000", "AC"),
        ("50", 0.5, "20.000", "DC"),
        (None, 0.5, "25.000", "DC"),  # 50 kW on average: no AC charger does that
        (None, 4.0, "25.000", None),
    ],
)
def test_the_charger_type_comes_from_its_rating_or_the_power_it_delivered(
    db, depot, make_vehicle, make_charger, completed, rated_kw, hours, kwh, expected
):
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, rated_kw or "1")])
    if rated_kw is None:
        charger.connectors[0].max_kw = None
        db.flush()
    session = completed(charger, hours=hours, kwh=kwh, vehicle_id=make_vehicle(depot=depot).id)
    battery.refresh_battery_sessions(db)
    assert row_of(db, session).charger_type == expected


def test_the_refresh_is_idempotent_and_picks_up_late_readings(
    db, depot, make_vehicle, make_charger, completed, reading
):
    car = make_vehicle(depot=depot)
    charger = make_charger(depot=depot)
    old = completed(charger, start=T0 - timedelta(days=3), vehicle_id=car.id)
    session = completed(charger, vehicle_id=car.id)
    reading(car, T0 - timedelta(minutes=4), 25)

    assert battery.refresh_battery_sessions(db) == 2
    assert row_of(db, session).usable is False  # no reading after it yet
    reading(car, T0 + timedelta(minutes=70), 77)  # the tracker was offline; it arrives
    assert battery.refresh_battery_sessions(db, since=T0) == 1
    assert battery.refresh_battery_sessions(db, since=T0) == 1

    rows = db.scalars(select(BatterySession).where(BatterySession.vehicle_id == car.id)).all()
    assert len(rows) == 2
    row = row_of(db, session)
    assert (row.soc_start_pct, row.soc_end_pct, row.usable) == (25, 77, True)
    assert row_of(db, old).usable is False


def test_active_sessions_are_not_joined(db, depot, make_charger, make_charging_session):
    make_charging_session(make_charger(depot=depot), started_at=T0)
    assert battery.refresh_battery_sessions(db) == 0


def daily_sessions(db, car, charger, completed, reading, days, kwh="22.000", soc=(30, 80)):
    """One session a day for `days` days: 50 points for 22 kWh on a 38.8 kWh car (an
    efficiency of 0.88 when the battery is new)."""
    for day in range(days):
        start = T0 + timedelta(days=day)
        completed(charger, start=start, hours=3, kwh=kwh, vehicle_id=car.id)
        reading(car, start - timedelta(minutes=2), soc[0], odometer_m=12_000_000 + 150_000 * day)
        reading(car, start + timedelta(hours=3, minutes=2), soc[1])


def test_estimates_are_stored_per_vehicle_for_the_screens(
    db, depot, make_vehicle, make_charger, completed, reading
):
    measured, new = make_vehicle(depot=depot), make_vehicle(depot=depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "7.4")])
    daily_sessions(db, measured, charger, completed, reading, days=12)
    daily_sessions(db, new, charger, completed, reading, days=2)

    assert battery.refresh_battery_sessions(db) == 14
    assert store.refresh_battery_estimates(db) == 2

    estimate = battery.get_battery_estimate(db, measured.id)
    assert estimate.soh_percent == pytest.approx(100, abs=0.01)
    assert estimate.soh_low <= 100 <= estimate.soh_high
    assert estimate.capacity_kwh == pytest.approx(38.8, abs=0.01)
    assert estimate.efficiency_ac == pytest.approx(38.8 * 0.5 / 22, abs=0.001)
    assert estimate.efficiency_dc is None
    assert estimate.sessions_used == 12
    assert estimate.fade_percent_per_year is None  # 12 days: too early to say
    assert estimate.model == "BYD Dolphin Mini"
    assert estimate.as_of == T0 + timedelta(days=11)
    assert estimate.trend == [{"month": "2026-03", "soh_percent": 100.0, "sessions": 12}]
    assert (estimate.low_soh, estimate.fast_fade) == (False, False)

    too_few = battery.get_battery_estimate(db, new.id)
    assert too_few.soh_percent is None
    assert (too_few.sessions_total, too_few.sessions_used) == (2, 0)
    assert [e.vehicle_id for e in battery.list_battery_estimates(db)] == [measured.id, new.id]

    assert store.refresh_battery_estimates(db) == 2  # replaces, does not add
    assert len(db.scalars(select(BatteryEstimate)).all()) == 2


def test_the_nightly_job_joins_and_estimates(
    redis_queues, db, depot, make_vehicle, make_charger, completed, reading
):
    car = make_vehicle(depot=depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "7.4")])
    daily_sessions(db, car, charger, completed, reading, days=9)

    refresh_battery_health_job.delay()
    SimpleWorker([Queue("telemetry", connection=redis_queues)], connection=redis_queues).work(
        burst=True
    )

    assert len(db.scalars(select(BatterySession)).all()) == 9
    assert battery.get_battery_estimate(db, car.id).sessions_used == 9


def test_the_cron_config_runs_the_battery_job_nightly():
    from workers.cron import __file__ as config_path

    scheduler = cron.CronScheduler(connection=Redis.from_url(TEST_REDIS))
    scheduler.load_config_from_file(config_path)
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs["battery-health"].cron == "30 2 * * *"
    assert jobs["battery-health"].func is refresh_battery_health_job
    assert jobs["battery-health"].queue_name == "telemetry"


def test_the_fleet_read_groups_fade_by_model_and_dc_share_and_lists_the_cars_to_watch(
    db, depot, make_vehicle, store_estimates
):
    cars = [make_vehicle(depot=depot) for _ in range(12)]
    seal = make_vehicle(depot=depot, model="Seal")
    new = make_vehicle(depot=depot)
    common = {"fade_percent_per_year": 2.0, "dc_share": 0.1}
    stored = store_estimates(
        {
            **{car: common | {"soh_percent": 99.0 - i * 0.1} for i, car in enumerate(cars[:10])},
            cars[10]: common
            | {"soh_percent": 84.0, "fade_percent_per_year": 3.0, "alerts": (LOW_SOH,)},
            cars[11]: {"soh_percent": 98.9, "fade_percent_per_year": 6.0, "dc_share": 0.8}
            | {"alerts": (FAST_FADE,), "as_of": LATEST},
            seal: {"soh_percent": 97.0, "fade_percent_per_year": None, "dc_share": 1.0},
            new: {"soh_percent": None, "fade_percent_per_year": None, "sessions_used": 0},
        }
    )
    assert stored == 14
    report = battery.get_fleet_battery(db)

    assert len(report.cars) == 14
    assert len(report.measured) == 13  # the new car waits for sessions
    # Every car with an alert, then the lowest state of health: ten at least.
    assert [c.estimate.vehicle_id for c in report.watch[:2]] == [cars[10].id, cars[11].id]
    assert len(report.watch) == 10
    assert report.watch[2].estimate.vehicle_id == seal.id  # the lowest: 97.0
    assert report.watch[-1].estimate.soh_percent == pytest.approx(98.7)  # 98.1 .. 98.7
    assert report.watch[0].plate == cars[10].plate
    assert report.watch[0].depot == depot.name
    # Fade groups count the cars with a fade rate only (not the Seal, nor the new car).
    (dolphins,) = report.by_model
    assert (dolphins.key, dolphins.cars) == ("BYD Dolphin Mini", 12)
    assert dolphins.fade_percent_per_year == pytest.approx((10 * 2.0 + 3.0 + 6.0) / 12)
    assert [(g.key, g.cars) for g in report.by_dc_share] == [
        ((0.0, 0.25), 11),
        ((0.25, 0.5), 0),
        ((0.5, 0.75), 0),
        ((0.75, 1.0), 1),
    ]
    assert report.fleet_fade_median == 2.0
    assert report.fleet_fade_percent_per_year == pytest.approx(29 / 12)
    assert report.estimated_at is not None
    assert report.as_of == LATEST  # the latest session any estimate used


def test_a_cars_battery_comes_with_the_fleets_median_fade(db, depot, make_vehicle, store_estimates):
    cars = [make_vehicle(depot=depot) for _ in range(4)]
    alone = battery.get_vehicle_battery(db, cars[0].id)
    assert (alone.estimate, alone.fleet_fade_median) == (None, None)
    fades = (1.0, 2.0, 2.4, 9.0)
    store_estimates({car: {"fade_percent_per_year": f} for car, f in zip(cars, fades, strict=True)})
    mine = battery.get_vehicle_battery(db, cars[0].id)
    assert mine.estimate.soh_percent == 96.4
    assert mine.fleet_fade_median == pytest.approx(2.2)  # not dragged up by the 9 %
    assert battery.get_fleet_battery(db).by_dc_share[0].cars == 4
