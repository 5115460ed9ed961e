"""The demo's one simulated world: one plan that the trackers and the chargers follow.

Most tests use a small world made up here (the plan is a pure function of its inputs);
the last ones read the seeded demo from the database, as the simulators do, and run both
simulators' planning for the same instants."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from charging.simulate import ChargerSpec, new_outlets, planned_sessions
from portal.demo.seed import seed_demo
from portal.demo.world import (
    LOCAL,
    MANUAL_PLUG_DELAY,
    ODOMETER_EPOCH,
    StartRequest,
    StopRequest,
    World,
    WorldBooking,
    WorldCar,
    WorldConnector,
    WorldDepot,
    WorldInputs,
    battery_truth,
    day_start,
    load_inputs,
    world_day,
    write_truth_csv,
)
from portal.models import Charger, ChargerConnector
from telemetry.simulate import demo_fleet

DAY = date(2026, 12, 8)  # a Tuesday
VALLEJO = WorldDepot(1, "VAL", "Depósito Vallejo", 19.4895, -99.1468)
TEZONCO = WorldDepot(2, "IZT", "Depósito Iztapalapa", 19.3118, -99.0673)


def small_world_inputs(cars: int = 24, **extra: object) -> WorldInputs:
    connectors = []
    ids = itertools.count(1)
    for depot in (VALLEJO, TEZONCO):
        for n in range(1, 4):
            for evse, kind in ((1, "CCS2"), (2, "GBT")):
                connectors.append(
                    WorldConnector(
                        next(ids),
                        depot.id * 10 + n,
                        f"LAFA-{depot.code}-{n:02d}",
                        evse,
                        depot.id,
                        kind,
                        60.0,
                    )
                )
    models = [(38.8, "CCS2"), (30.0, "CCS2"), (31.4, "GBT")]
    fleet = []
    for i in range(cars):
        kwh, kind = models[i % 3]
        driving = i < cars - 2  # the last two have no contract
        fleet.append(
            WorldCar(
                vehicle_id=i + 1,
                vin=f"LGXTEST{i:010d}",
                imei=f"35{i:013d}",
                plate=f"ABC-{i:03d}-A",
                model="BYD Dolphin Mini" if kind == "CCS2" else "JAC E10X",
                depot_id=(VALLEJO, TEZONCO)[i % 2].id,
                connector_type=kind,
                nominal_kwh=kwh,
                range_km=300,
                commissioned=date(2025, 6, 2),
                driver_id=i + 1 if driving else None,
                id_tag=f"LAFA{i + 1:06d}" if driving else None,
                in_service_from=date(2025, 6, 2) if driving else None,
            )
        )
    return WorldInputs((VALLEJO, TEZONCO), tuple(connectors), tuple(fleet), **extra)  # type: ignore[arg-type]


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL).astimezone(UTC)


def instants(day: date, every: timedelta = timedelta(minutes=10)) -> list[datetime]:
    start, end = day_start(day), day_start(day + timedelta(days=1))
    return [start + every * n for n in range(int((end - start) / every))]


def test_the_same_inputs_give_the_same_world():
    first, second = World(small_world_inputs()), World(small_world_inputs())
    for depot in (VALLEJO, TEZONCO):
        a, b = first.depot_day(depot.id, DAY), second.depot_day(depot.id, DAY)
        assert [(s.key, s.start, s.end, s.connector_id) for s in a.sessions] == [
            (s.key, s.start, s.end, s.connector_id) for s in b.sessions
        ]
    moment = at_local(DAY, 11, 37)
    assert first.car_at(3, moment) == second.car_at(3, moment)


def test_a_day_is_continuous_and_ends_on_the_next_days_anchor():
    world = World(small_world_inputs())
    for vehicle_id, car in world.cars.items():
        days = [world.car_day(vehicle_id, DAY + timedelta(days=n)) for n in range(3)]
        for day in days:
            segments = day.segments
            assert segments[0].start == day_start(day.draw.day)
            assert segments[-1].end == day_start(day.draw.day + timedelta(days=1))
            for a, b in itertools.pairwise(segments):
                assert a.end == b.start
                assert b.soc_start == pytest.approx(a.soc_end)
                assert b.odometer_start_m == pytest.approx(a.odometer_end_m)
            assert min(s.soc_end for s in segments) >= 9.9, car.plate
        for today, tomorrow in itertools.pairwise(days):
            # The odometer and the charge carry over midnight to the next day.
            assert tomorrow.segments[0].odometer_start_m == pytest.approx(
                today.segments[-1].odometer_end_m
            )
            assert tomorrow.segments[0].soc_start == pytest.approx(today.segments[-1].soc_end)
            assert today.km == pytest.approx(today.draw.km, abs=0.01)


def test_cars_drive_a_ride_hailing_day_and_charge_at_their_depot():
    world = World(small_world_inputs())
    working = [world.car_day(v, DAY) for v, car in world.cars.items() if world.draw(car, DAY).works]
    assert len(working) >= 14
    for day in working:
        assert 60 < day.km < 330
        assert len(day.sessions) >= 1
        for session in day.sessions:
            connector = world.connectors[session.connector_id]
            assert connector.depot_id == day.car.depot_id
            assert connector.connector_type == day.car.connector_type
            assert session.id_tag == day.car.id_tag
    idle = [world.car_day(v, DAY) for v, car in world.cars.items() if car.driver_id is None]
    assert all(day.km == 0 and not day.sessions for day in idle)


def test_the_state_of_charge_rises_with_the_metered_energy():
    world = World(small_world_inputs())
    sessions = world.sessions_between(day_start(DAY), day_start(DAY + timedelta(days=1)))
    assert len(sessions) > 10
    for s in sessions:
        car = world.cars[s.vehicle_id]
        truth = world.battery(car)
        assert s.efficiency == truth.dc_efficiency
        assert s.capacity_kwh == pytest.approx(truth.capacity_kwh(at_local(DAY, 12)), rel=1e-3)
        middle = s.start + (s.end - s.start) / 3
        for at in (middle, s.end):
            gained = s.energy_wh(at) / 1000 * s.efficiency / s.capacity_kwh * 100
            assert s.soc(at) == pytest.approx(s.soc(s.start) + gained)
        # The tracker reads the same state of charge the charger meters.
        assert world.car_at(s.vehicle_id, middle).soc == pytest.approx(s.soc(middle))


def test_a_connector_runs_one_session_at_a_time():
    world = World(small_world_inputs(cars=60))  # more cars than connectors: some queue
    for depot in (VALLEJO, TEZONCO):
        by_connector: dict[int, list] = {}
        for s in world.depot_day(depot.id, DAY).sessions:
            by_connector.setdefault(s.connector_id, []).append(s)
        for sessions in by_connector.values():
            for a, b in itertools.pairwise(sorted(sessions, key=lambda s: s.start)):
                assert a.end <= b.start


def test_each_car_fades_at_its_own_seeded_rate():
    world = World(small_world_inputs())
    truth = battery_truth(world, at_local(DAY, 12))
    rates = [t.fade_percent_per_year for t in truth]
    assert all(1.7 < r < 3.4 for r in rates)
    assert len(set(rates)) == len(rates)
    car = world.cars[1]
    rate = world.battery(car).fade_percent_per_year
    assert World(small_world_inputs()).battery(car).fade_percent_per_year == rate
    # Its capacity, and so its km on the same charge, shrinks day by day.
    first = world.draw(car, ODOMETER_EPOCH + timedelta(days=200))
    later = world.draw(car, ODOMETER_EPOCH + timedelta(days=500))
    assert first.capacity_kwh - later.capacity_kwh == pytest.approx(
        car.nominal_kwh * rate / 100 * 300 / 365.25
    )


def test_a_booking_brings_the_car_to_its_connector_and_changes_nothing_before_it():
    plain = World(small_world_inputs())
    car = next(c for c in plain.cars.values() if c.id_tag and plain.draw(c, DAY).works)
    connector = next(
        c
        for c in plain.connectors.values()
        if c.depot_id == car.depot_id and c.connector_type == car.connector_type and c.evse_id
    )
    made = at_local(DAY, 9, 12)
    booking = WorldBooking(
        id=1,
        driver_id=car.driver_id,
        depot_id=car.depot_id,
        connector_id=connector.id,
        window_start=at_local(DAY, 17),
        window_end=at_local(DAY, 18),
        known_from=made,
    )
    booked = World(small_world_inputs(bookings=(booking,)))
    # Before the booking was made, everything happened as it did.
    for at in instants(DAY):
        if at < made:
            assert booked.car_at(car.vehicle_id, at) == plain.car_at(car.vehicle_id, at)
    session = next(s for s in booked.car_day(car.vehicle_id, DAY).sessions if s.booking_id)
    assert session.connector_id == connector.id
    assert booking.window_start <= session.start <= booking.window_start + timedelta(minutes=10)
    assert booked.session_on(connector.id, session.start + timedelta(minutes=5)) == session
    # Nobody else charges on the booked connector during the window.
    for other in booked.depot_day(car.depot_id, DAY).sessions:
        if other.connector_id == connector.id and other is not session:
            assert other.end <= booking.window_start or other.start >= session.end


def test_a_slot_booked_ahead_makes_a_working_day_of_a_day_off():
    plain = World(small_world_inputs())
    car, day = next(
        (plain.cars[v], DAY + timedelta(days=n))
        for n in range(14)
        for v in range(1, 20)
        if not plain.draw(plain.cars[v], DAY + timedelta(days=n)).works
    )
    connector = next(
        c
        for c in plain.connectors.values()
        if c.depot_id == car.depot_id and c.connector_type == car.connector_type
    )
    booking = WorldBooking(
        1,
        car.driver_id,
        car.depot_id,
        connector.id,
        at_local(day, 8),
        at_local(day, 9),
        known_from=day_start(day) - timedelta(hours=10),
    )
    booked = World(small_world_inputs(bookings=(booking,)))
    assert booked.draw(car, day).works
    (session,) = [s for s in booked.car_day(car.vehicle_id, day).sessions if s.booking_id]
    assert session.start < at_local(day, 8, 10)


def test_a_remote_start_plugs_the_car_in_and_a_remote_stop_ends_it():
    plain = World(small_world_inputs())
    car = plain.cars[4]
    at = at_local(DAY, 4, 30)  # parked at the depot before the day's first trip
    assert not plain.car_at(car.vehicle_id, at).plugged
    connector = next(
        c
        for c in plain.connectors.values()
        if c.depot_id == car.depot_id and c.connector_type == car.connector_type
    )
    start = StartRequest(at, car.id_tag, connector.id)
    started = World(small_world_inputs(starts=(start,)))
    session = started.remote_session(start)
    assert session is not None
    assert session.manual
    assert session.start == at + MANUAL_PLUG_DELAY
    later = session.start + timedelta(minutes=10)
    moment = started.car_at(car.vehicle_id, later)
    assert moment.charging
    assert moment.session == session
    assert started.session_on(connector.id, later) == session

    stop = StopRequest(later, connector.id, session.start)
    stopped = World(small_world_inputs(starts=(start,), stops=(stop,)))
    cut = stopped.session_on(connector.id, later)
    assert cut is not None
    assert cut.stop_reason == "Remote"
    assert cut.end == later + timedelta(seconds=5)
    assert not stopped.car_at(car.vehicle_id, later + timedelta(minutes=1)).charging

    # A start on a connector another car is charging on is not accepted.
    busy = next(iter(plain.sessions_between(day_start(DAY), day_start(DAY) + timedelta(days=1))))
    intruder = next(
        c
        for c in plain.cars.values()
        if c.depot_id == busy.depot_id
        and c.connector_type == plain.connectors[busy.connector_id].connector_type
        and c.vehicle_id != busy.vehicle_id
        and c.id_tag
    )
    refused = StartRequest(busy.start + timedelta(minutes=5), intruder.id_tag, busy.connector_id)
    assert World(small_world_inputs(starts=(refused,))).remote_session(refused) is None


def test_the_world_day_is_the_local_calendar_day():
    assert world_day(at_local(DAY, 0, 0)) == DAY
    assert world_day(at_local(DAY, 23, 59)) == DAY
    assert world_day(at_local(DAY, 5, 59) - timedelta(hours=6)) == DAY - timedelta(days=1)


# --- The seeded demo, as the simulators read it -------------------------------------------------


def charger_outlets(db) -> list:
    outlets = []
    for charger in db.scalars(select(Charger).order_by(Charger.identity)):
        connectors = db.scalars(
            select(ChargerConnector).where(ChargerConnector.charger_id == charger.id)
        ).all()
        spec = ChargerSpec(
            charger.identity,
            "x",
            outlets=len(connectors),
            connectors={c.evse_id: c.id for c in connectors},
        )
        outlets.append((charger, new_outlets(spec)))
    return outlets


class FixedWorld:
    """A LiveWorld that does not go back to the database (the test's transaction)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def get(self) -> World:
        return self.world


def test_the_trackers_and_the_chargers_agree_at_every_instant(db):
    seed_demo(db, vehicles=30)
    world = World(load_inputs(db))
    fleet = demo_fleet(FixedWorld(world))  # type: ignore[arg-type]
    chargers = charger_outlets(db)
    assert len(fleet) == 30
    assert sum(len(o) for _c, o in chargers) == 30
    day = world_day(datetime.now(UTC))
    charging_seen = 0
    for at in instants(day, timedelta(minutes=15)) + instants(day + timedelta(days=1)):
        records = {v.vehicle_id: v.record(at) for v in fleet}
        trackers_charging = {v for v, r in records.items() if r.io[915]}
        assert trackers_charging == {v for v, r in records.items() if r.io[914]}
        sessions = {}
        for charger, outlets in chargers:
            for evse_id, session in planned_sessions(world, outlets.values(), at).items():
                sessions[session.vehicle_id] = (charger, evse_id, session)
        # Every car charging per its tracker has a session on a connector of its depot
        # (with its driver's card, for its connector type), and vice versa.
        assert trackers_charging == set(sessions), at
        for vehicle_id, (charger, evse_id, session) in sessions.items():
            car = world.cars[vehicle_id]
            assert charger.depot_id == car.depot_id
            assert world.connectors[session.connector_id].evse_id == evse_id
            assert world.connectors[session.connector_id].connector_type == car.connector_type
            assert session.id_tag == car.id_tag
            assert records[vehicle_id].io[152] == round(session.soc(at))
        charging_seen += len(sessions)
    assert charging_seen > 20  # the check above is not vacuous


def test_the_world_reads_the_demo_from_the_database(db):
    seed_demo(db, vehicles=30)
    inputs = load_inputs(db)
    assert len(inputs.depots) == 3
    assert len(inputs.connectors) == 30
    assert len(inputs.cars) == 30
    working = [c for c in inputs.cars if c.id_tag]
    assert len(working) >= 20
    assert all(c.driver_id and c.in_service_from for c in working)
    assert inputs.bookings  # the demo's bookings decide when those drivers come


def test_the_battery_truth_is_written_for_every_car():
    world = World(small_world_inputs())
    out = io.StringIO()
    assert write_truth_csv(world, at_local(DAY, 12), out) == len(world.cars)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == len(world.cars)
    first = rows[0]
    car = world.cars[int(first["vehicle_id"])]
    assert float(first["capacity_kwh"]) == pytest.approx(
        world.battery(car).capacity_kwh(at_local(DAY, 12)), abs=0.001
    )
    assert float(first["soh_percent"]) < 100  # commissioned in 2025: it has faded
