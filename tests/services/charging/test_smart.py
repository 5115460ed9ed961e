"""A depot's smart-charging plan from its rows: tariff, connectors, cars plugged in and
booked, the month's peaks; kept unless a new plan saves more than the threshold."""

import contextlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from charging import replan
from portal.models import (
    AuditEvent,
    Booking,
    ChargingPlan,
    ChargingSession,
    ConnectorType,
    DepotTariff,
    DepotTariffPrice,
    MeterValue,
    SessionStatus,
    TariffKind,
    TariffPeriod,
    VehicleState,
)
from portal.services.charging import smart

MX = ZoneInfo("America/Mexico_City")
# A winter Tuesday at 18:00: punta (18:00-22:00) is the first 16 slots.
NOW = datetime(2026, 12, 8, 18, 0, tzinfo=MX).astimezone(UTC)


def _tariff(db, depot):
    tariff = DepotTariff(
        depot_id=depot.id,
        kind=TariffKind.GDMTH,
        effective_from=date(2026, 1, 1),
        capacity_mxn_per_kw=Decimal("420"),
        distribution_mxn_per_kw=Decimal("59"),
        fixed_mxn_per_month=Decimal("900"),
        transmission_mxn_per_kwh=Decimal("0"),
    )
    for period, price in (
        (TariffPeriod.BASE, "0.90"),
        (TariffPeriod.INTERMEDIA, "1.50"),
        (TariffPeriod.PUNTA, "1.80"),
    ):
        tariff.prices.append(DepotTariffPrice(period=period, mxn_per_kwh=Decimal(price)))
    db.add(tariff)
    db.flush()


def _soc(db, vehicle, pct):
    db.merge(
        VehicleState(
            vehicle_id=vehicle.id,
            imei=vehicle.tracker_imei,
            device_time=NOW,
            received_at=NOW,
            latitude=19.4,
            longitude=-99.1,
            angle=0,
            satellites=9,
            speed=0,
            position_valid=True,
            last_record={},
            soc_pct=pct,
        )
    )
    db.flush()


@pytest.fixture
def depot(db, make_depot, make_charger, make_vehicle, make_charging_session, make_contract):
    """A depot of 100 kW with one charger of two 60 kW connectors: car A plugged in at 30 %
    (60 kWh battery), car B booked on the second connector from 22:00 to 06:00 at 50 %."""
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(
        depot=depot, connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.CCS2, "60")]
    )
    plugged = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, plugged, 30)
    make_charging_session(charger, vehicle_id=plugged.id, transaction_id="77")
    booked = make_contract(vehicle=make_vehicle(depot=depot, battery_kwh=Decimal("40")))
    _soc(db, booked.vehicle, 50)
    db.add(
        Booking(
            driver_id=booked.driver_id,
            vehicle_id=booked.vehicle_id,
            depot_id=depot.id,
            connector_type=ConnectorType.CCS2,
            charger_id=charger.id,
            connector_id=charger.connectors[1].id,
            window_start=NOW + timedelta(hours=4),
            window_end=NOW + timedelta(hours=12),
        )
    )
    db.flush()
    depot.cars = (plugged, booked.vehicle)
    return depot


def test_the_plan_charges_every_car_by_morning_outside_punta_for_less(db, depot):
    plugged, booked = depot.cars
    result = smart.plan_depot(db, depot, NOW)
    plan = result.plan
    assert result.new
    assert plan.id is not None
    a, b = plan.schedule[f"v{plugged.id}"], plan.schedule[f"v{booked.id}"]
    assert len(a) == smart.HORIZON_SLOTS
    # Both need their energy to 90 %: (90-30) % of 60 kWh and (90-50) % of 40 kWh.
    assert sum(a) / 4 == pytest.approx(36.0, abs=0.01)
    assert sum(b) / 4 == pytest.approx(16.0, abs=0.01)
    # Nothing in punta, the booked car not before its window, nobody after 06:00.
    assert max(a[:16] + b[:16]) == 0
    assert max(a[48:] + b[48:]) == 0
    assert plan.punta[:16] == [True] * 16
    assert not any(plan.punta[16:])
    assert plan.cars[f"v{plugged.id}"]["transaction_id"] == "77"
    assert plan.cars[f"v{booked.id}"]["booking_id"] is not None
    assert plan.short_kwh == {}
    assert plan.cost_cents < plan.uncontrolled_cost_cents
    assert plan.costs["uncontrolled"]["capacity"] == 420 * 60 * 100  # 60 kW in punta


def test_a_plan_is_kept_unless_a_new_one_saves_more_than_the_threshold(db, depot):
    first = smart.plan_depot(db, depot, NOW).plan
    later = smart.plan_depot(db, depot, NOW + timedelta(minutes=15))
    assert not later.new
    assert later.plan.id == first.id
    # The plugged-in car turns out emptier: the plan no longer holds, a new one is made.
    _soc(db, depot.cars[0], 10)
    replaced = smart.plan_depot(db, depot, NOW + timedelta(minutes=30))
    assert replaced.new
    assert replaced.plan.id != first.id
    assert sum(replaced.plan.schedule[f"v{depot.cars[0].id}"]) / 4 == pytest.approx(48.0, abs=0.01)


def test_the_months_peaks_come_from_the_power_meter_values(db, depot):
    charger_id = depot.cars[0].id and db.scalar(
        select(Booking.charger_id).where(Booking.depot_id == depot.id)
    )
    punta = datetime(2026, 12, 3, 19, 0, tzinfo=MX)  # a Thursday in punta
    base = datetime(2026, 12, 4, 3, 0, tzinfo=MX)  # base
    for when, kw in ((punta, 40_000.0), (base, 70_000.0), (punta - timedelta(days=30), 99_000.0)):
        for minute in (0, 5, 10):
            db.add(
                MeterValue(
                    charger_id=charger_id,
                    evse_id=1,
                    sampled_at=when + timedelta(minutes=minute),
                    measurand="Power.Active.Import",
                    unit="W",
                    value=kw,
                )
            )
    db.flush()
    built = smart.depot_scenario(db, depot, NOW)
    # Last month's 99 kW does not count; this month's punta peak is 40, overall 70.
    assert built.scenario.punta_peak_so_far_kw == pytest.approx(40.0)
    assert built.scenario.peak_so_far_kw == pytest.approx(70.0)


def test_only_depots_with_planning_on_are_replanned_and_the_switch_is_audited(
    db, depot, make_depot, make_user
):
    other = make_depot()
    _tariff(db, other)
    manager = make_user()
    assert smart.replan_enabled_depots(db, NOW) == []
    smart.set_planning(db, depot, True, actor_id=manager.id)
    assert smart.planning_enabled(db, depot.id)
    assert not smart.planning_enabled(db, other.id)
    done = smart.replan_enabled_depots(db, NOW)
    assert [r.plan.depot_id for r in done] == [depot.id]
    assert db.scalar(select(ChargingPlan.depot_id).where(ChargingPlan.depot_id == other.id)) is None
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "depot.smart_charging"))
    assert event.actor_id == manager.id
    assert event.details == {"enabled": True}


def test_a_depot_without_a_tariff_is_not_planned(db, make_depot):
    with pytest.raises(smart.NoTariff):
        smart.plan_depot(db, make_depot(), NOW)


def test_the_board_learns_which_cars_the_plan_holds_back_and_until_when(db, depot, make_user):
    smart.plan_depot(db, depot, NOW)
    assert smart.held_back(db, depot.id, NOW) == {}  # planning off: nothing is held
    smart.set_planning(db, depot, True, actor_id=make_user().id)
    (held,) = smart.held_back(db, depot.id, NOW).values()
    assert held.kw == 0  # punta
    assert held.until.astimezone(MX).hour >= 22  # not before punta ends


# --- re-planning on a change ---------------------------------------------------------------


def test_a_booked_car_that_plugs_in_gets_a_new_plan_whatever_the_saving(
    db, depot, make_charging_session
):
    plugged, booked = depot.cars
    first = smart.plan_depot(db, depot, NOW).plan
    assert first.cars[f"v{booked.id}"]["session_id"] is None
    # The booked car comes early, on its connector: the same cars, but the plan had it
    # waiting for its window (a TxDefaultProfile) and its profile must name its transaction.
    charger = db.get(ChargingSession, first.cars[f"v{plugged.id}"]["session_id"]).charger
    arrived = make_charging_session(
        charger, vehicle_id=booked.id, connector_id=charger.connectors[1].id, evse_id=2
    )
    replaced = smart.plan_depot(db, depot, NOW, threshold_cents=10**9)
    assert replaced.new
    assert replaced.plan.cars[f"v{booked.id}"]["session_id"] == arrived.id
    assert replaced.plan.cars[f"v{booked.id}"]["transaction_id"] == arrived.transaction_id


def test_a_car_that_leaves_gets_a_new_plan_whatever_the_saving(db, depot):
    plugged, _ = depot.cars
    first = smart.plan_depot(db, depot, NOW).plan
    session = db.get(ChargingSession, first.cars[f"v{plugged.id}"]["session_id"])
    session.status = SessionStatus.COMPLETED
    session.stopped_at = NOW
    db.flush()
    replaced = smart.plan_depot(db, depot, NOW, threshold_cents=10**9)
    assert replaced.new
    assert f"v{plugged.id}" not in replaced.plan.schedule


def test_replan_depot_plans_only_a_depot_with_planning_on(db, depot, make_depot):
    assert smart.replan_depot(db, depot.id, NOW) is None  # off
    smart.set_planning(db, depot, True, actor_id=None)
    assert smart.replan_depot(db, depot.id, NOW).new
    assert not smart.replan_depot(db, depot.id, NOW).new  # kept: the threshold holds
    untariffed = make_depot()
    smart.set_planning(db, untariffed, True, actor_id=None)
    assert smart.replan_depot(db, untariffed.id, NOW) is None


def test_planned_depots_are_those_of_the_chargers_with_planning_on(db, depot, make_charger):
    charger_id = db.scalar(select(Booking.charger_id).where(Booking.depot_id == depot.id))
    other = make_charger()
    fresh = replan.PlannedDepots(lambda: contextlib.nullcontext(db), max_age=0)
    known = replan.PlannedDepots(lambda: contextlib.nullcontext(db), max_age=3600)
    assert fresh.of([charger_id, other.id]) == [] == known.of([charger_id])
    smart.set_planning(db, depot, True, actor_id=None)
    assert fresh.of([charger_id, other.id, charger_id]) == [depot.id]
    assert known.of([charger_id]) == []  # as of its last read, until it is max_age old
    depot.retired_at = NOW
    db.flush()
    assert fresh.of([charger_id]) == []


def _power(db, session, at, kw):
    db.add(
        MeterValue(
            charger_id=session.charger_id,
            evse_id=session.evse_id,
            session_id=session.id,
            sampled_at=at,
            measurand="Power.Active.Import",
            unit="W",
            value=kw * 1000,
        )
    )
    db.flush()


@pytest.fixture
def planned(db, depot, clock):
    """The depot's plan made at NOW, planning on; its plugged-in car's session. In punta
    (the first 16 slots) the plan gives the car 0 kW."""
    clock.pin(NOW)
    smart.set_planning(db, depot, True, actor_id=None)
    plan = smart.plan_depot(db, depot).plan
    key = f"v{depot.cars[0].id}"
    assert plan.schedule[key][:16] == [0.0] * 16
    return plan, db.get(ChargingSession, plan.cars[key]["session_id"])


def test_a_session_strays_when_two_readings_in_a_row_are_off_its_plan(db, planned):
    plan, session = planned
    later = NOW + timedelta(minutes=4)
    _power(db, session, NOW + timedelta(minutes=2), 30.0)
    assert smart.strays(db, later) == []  # one reading off is not a stray
    _power(db, session, NOW + timedelta(minutes=3), 29.5)
    (stray,) = smart.strays(db, later)
    assert (stray.depot_id, stray.plan_id, stray.session_id) == (plan.depot_id, plan.id, session.id)
    assert (stray.planned_kw, stray.metered_kw) == (0.0, 29.5)
    # The latest reading back on the plan: no longer a stray.
    _power(db, session, NOW + timedelta(minutes=3, seconds=30), 0.2)
    assert smart.strays(db, later) == []


def test_readings_near_the_plan_old_or_before_it_took_effect_are_no_stray(db, planned):
    _plan, session = planned
    # Within max(1 kW, 20 %) of 0 kW.
    _power(db, session, NOW + timedelta(minutes=2), 0.9)
    _power(db, session, NOW + timedelta(minutes=3), 0.9)
    assert smart.strays(db, NOW + timedelta(minutes=4)) == []
    # Far off, but before the plan's profiles could arrive.
    _power(db, session, NOW + timedelta(seconds=20), 40.0)
    _power(db, session, NOW + timedelta(seconds=40), 40.0)
    assert smart.strays(db, NOW + timedelta(minutes=1)) == []
    # Far off, but no reading for 5 minutes: a silent session is no stray.
    _power(db, session, NOW + timedelta(minutes=5), 40.0)
    _power(db, session, NOW + timedelta(minutes=6), 40.0)
    assert smart.strays(db, NOW + timedelta(minutes=8)) != []
    assert smart.strays(db, NOW + timedelta(minutes=12)) == []


def test_without_power_readings_the_energy_register_tells_the_kw(db, planned):
    _plan, session = planned

    def energy(minute, wh):
        db.add(
            MeterValue(
                charger_id=session.charger_id,
                evse_id=session.evse_id,
                session_id=session.id,
                sampled_at=NOW + timedelta(minutes=minute),
                measurand="Energy.Active.Import.Register",
                unit="Wh",
                value=wh,
            )
        )
        db.flush()

    # 10 Wh a minute: 0.6 kW against 0 kW planned, within 1 kW.
    for minute in (2, 3, 4):
        energy(minute, 1_000_000 + 10 * minute)
    assert smart.strays(db, NOW + timedelta(minutes=4, seconds=30)) == []
    # Then 500 Wh a minute: 30 kW, twice in a row.
    energy(5, 1_000_540)
    energy(6, 1_001_040)
    (stray,) = smart.strays(db, NOW + timedelta(minutes=6, seconds=30))
    assert stray.metered_kw == pytest.approx(30.0)


def _past_stays(make_charging_session, charger, vehicle, began: datetime, stay: timedelta):
    """Five completed sessions of the car on the days before, plugged in at `began`'s
    time of day and unplugged `stay` later."""
    for days in range(1, 6):
        start = began - timedelta(days=days)
        make_charging_session(
            charger,
            vehicle_id=vehicle.id,
            status=SessionStatus.COMPLETED,
            started_at=start,
            stopped_at=start + stay,
            meter_stop_wh=1_010_000,
        )


def test_a_car_without_a_booking_leaves_when_its_driver_usually_unplugs(
    db, make_depot, make_charger, make_vehicle, make_charging_session
):
    """Plugged in at 18:00 by a driver who stays about 2.5 h at that hour: planned to
    leave at 20:30, not at the next 06:00; a car with no past plans for 06:00."""
    depot = make_depot(site_power_kw=Decimal("200"))
    _tariff(db, depot)
    charger = make_charger(
        depot=depot, connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.CCS2, "60")]
    )
    usual = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    new = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    for car in (usual, new):
        _soc(db, car, 60)
    _past_stays(make_charging_session, charger, usual, NOW, timedelta(hours=2, minutes=30))
    # Sessions begun at other hours (the night's) are another pattern.
    _past_stays(make_charging_session, charger, usual, NOW + timedelta(hours=5), timedelta(hours=8))
    make_charging_session(charger, vehicle_id=usual.id, started_at=NOW)
    other = charger.connectors[1]
    make_charging_session(
        charger, vehicle_id=new.id, started_at=NOW, connector_id=other.id, evse_id=other.evse_id
    )
    built = smart.depot_scenario(db, depot, NOW)
    departures = {c.vehicle_id: c.departure_slot for c in built.cars}
    assert departures[usual.id] == 10  # 18:00 + 2.5 h, in 15-minute slots
    assert departures[new.id] == 48  # 06:00
    plan = smart.plan_depot(db, depot, NOW).plan
    # It needs its 18 kWh in those 2.5 h, punta or not.
    assert sum(plan.schedule[f"v{usual.id}"][:10]) / 4 == pytest.approx(18.0, abs=0.01)


def test_a_car_past_its_usual_stay_is_planned_to_leave_within_the_hour():
    history = [
        (NOW - timedelta(days=d), timedelta(hours=1)) for d in range(1, 4)
    ]  # an hour each time
    later = NOW + timedelta(hours=3)
    assert smart.usual_departure(history, NOW, NOW, MX) == NOW + timedelta(hours=1)
    assert smart.usual_departure(history, NOW, later, MX) == later + smart.OVERDUE_STAY
    assert smart.usual_departure(history[:2], NOW, NOW, MX) is None  # too few to tell


def test_a_driver_s_target_is_kept_between_50_and_100(db, make_driver):
    from portal.services import FieldError
    from portal.services.charging.driver import set_charge_target

    driver = make_driver()
    for wrong in (49, 101):
        with pytest.raises(FieldError) as refused:
            set_charge_target(db, driver.id, wrong)
        assert refused.value.field == "target"
    assert driver.charge_target_pct is None
    assert set_charge_target(db, driver.id, 80).charge_target_pct == 80


def test_a_car_short_either_way_does_not_make_a_new_plan_every_quarter_hour(
    db, make_depot, make_charger, make_vehicle, make_charging_session
):
    """At 05:00, a car that leaves at 06:00 needs 48 kWh from a 22 kW connector: short
    by about 26 kWh whatever the plan. Carrying on gives it as much as a new plan would."""
    five = datetime(2026, 12, 9, 5, 0, tzinfo=MX).astimezone(UTC)
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "22")])
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, car, 10)
    make_charging_session(charger, vehicle_id=car.id, started_at=five)
    first = smart.plan_depot(db, depot, five)
    assert first.plan.short_kwh[f"v{car.id}"] == pytest.approx(26.0, abs=0.01)
    again = smart.plan_depot(db, depot, five + timedelta(minutes=15))
    assert not again.new
    assert again.plan.id == first.plan.id
