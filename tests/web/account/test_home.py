"""The driver's home (phone): their car and contract, the car's card that htmx polls,
never another driver's car."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from portal import clock as portal_clock
from portal.models import Role, VehicleStatus
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today
from telemetry import store as ingest
from telemetry.codec import make_record
from tests.web import HX


def test_driver_home_shows_their_car_and_contract(client, login, make_contract, make_driver):
    contract = make_contract(starts_on=date.today() - timedelta(weeks=22, days=1))
    make_contract(vehicle=None, driver=make_driver(first_name="Otro"))  # someone else's
    login(contract.driver.user)
    page = client.get("/conductor/").text
    assert "Dolphin Mini" in page
    assert contract.vehicle.plate in page
    assert "$3,500.00" in page
    assert "Semana 23 de 156" in page
    assert "Otro" not in page


def test_driver_without_contract_is_told_so(client, login, make_driver):
    login(make_driver().user)
    assert "No tienes un contrato activo" in client.get("/conductor/").text


def test_another_drivers_car_never_shows(client, login, make_contract):
    mine, theirs = make_contract(), make_contract()
    login(mine.driver.user)
    page = client.get("/conductor/").text
    assert mine.vehicle.plate in page
    assert theirs.vehicle.plate not in page


@pytest.fixture
def driver_with_car(make_contract, make_user, make_driver):
    user = make_user(Role.DRIVER)
    contract = make_contract(driver=make_driver(user=user))
    return user, contract.vehicle


@pytest.mark.parametrize(
    "local_time",
    [(12, 0), (0, 10)],  # mid-day, and ten minutes into the local day
    ids=["noon", "just-after-midnight"],
)
def test_driver_sees_their_car_charge_range_and_km(
    db, client, login, driver_with_car, report, clock, local_time
):
    user, car = driver_with_car
    clock.pin(datetime.combine(local_today(), time(*local_time), tzinfo=rollups.LOCAL))
    report(car, 64, minutes_ago=8, odometer=25_000_000)  # both on the local day
    report(car, 61, minutes_ago=2, odometer=25_012_300)
    login(user)
    page = client.get("/conductor/")
    assert page.status_code == 200
    assert 'hx-trigger="every 15s"' in page.text
    assert "61" in page.text
    assert "Autonomía estimada" in page.text
    assert "232 km" in page.text  # 61 % x 3,800 m
    assert "hace 2 minutos" in page.text
    assert "12.3 km" in page.text  # today, from the odometer


def test_vehicle_status_fragment_and_full_page(db, client, login, driver_with_car, report):
    user, car = driver_with_car
    report(car, 47, charging=True)
    login(user)
    fragment = client.get("/conductor/vehicle-status", headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<section")
    assert "<html" not in fragment.text
    assert "Cargando" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    full = client.get("/conductor/vehicle-status")
    assert "<html" in full.text
    assert "47" in full.text


def test_a_driver_never_sees_another_car(db, client, login, driver_with_car, make_vehicle, report):
    user, _car = driver_with_car
    other = make_vehicle()
    report(other, 13)
    login(user)
    text = client.get("/conductor/vehicle-status", headers=HX).text
    assert "aún no ha reportado" in text  # their own car has not reported
    assert ">13<" not in text
    # Staff URLs with a vehicle id are not open to drivers at all.
    assert client.get(f"/operacion/vehiculos/{other.id}").status_code == 403


def test_driver_without_a_car(client, login, make_user, make_driver):
    user = make_user(Role.DRIVER)
    make_driver(user=user)
    login(user)
    assert "No tienes un auto asignado" in client.get("/conductor/vehicle-status").text


# --- Where the car is, and its charge as both of the driver's pages say it ----------------------


def place_report(db, vehicle, latitude, longitude, *, soc=60, charging=False, minutes_ago=2):
    """A tracker's reading at a position, stored as the listener stores it."""
    at = portal_clock.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    record = make_record(
        at,
        latitude=latitude,
        longitude=longitude,
        satellites=9,
        io={152: soc, 915: int(charging), 914: int(charging)},
    )
    ingest.store_records(db, [(vehicle.tracker_imei, record)], at)
    db.expire_all()


@pytest.fixture
def driver_at_vallejo(make_contract, make_depot, make_vehicle, make_user, make_driver):
    depot = make_depot(
        name="Depósito Vallejo", latitude=Decimal("19.4895"), longitude=Decimal("-99.1468")
    )
    user = make_user(Role.DRIVER)
    car = make_vehicle(depot=depot, status=VehicleStatus.LEASED)
    make_contract(driver=make_driver(user=user), vehicle=car)
    return user, car, depot


@pytest.mark.parametrize(
    ("latitude", "longitude", "words"),
    [
        (19.4896, -99.1467, "En el Depósito Vallejo"),
        (19.4922, -99.1468, "A 300 m del Depósito Vallejo"),
        (19.4238, -99.1630, "A 50 m de Metro Insurgentes"),
        (19.2301, -99.0102, "En San Juan Ixtayopan"),
    ],
    ids=["at-the-depot", "near-the-depot", "near-a-metro-station", "in-a-colonia"],
)
def test_the_driver_reads_where_their_car_is(
    db, client, login, driver_at_vallejo, latitude, longitude, words
):
    user, car, _depot = driver_at_vallejo
    place_report(db, car, latitude, longitude)
    login(user)
    text = client.get("/conductor/vehicle-status", headers=HX).text
    assert words in text
    assert f"{latitude:.5f}" not in text  # no raw coordinates


def test_home_and_charging_page_say_the_same(
    db, client, login, driver_at_vallejo, make_charger, make_charging_session
):
    user, car, depot = driver_at_vallejo
    # The tracker read 55 % a minute ago; the charger metered 57 % since.
    place_report(db, car, 19.4896, -99.1467, soc=55, charging=True, minutes_ago=1)
    charger = make_charger(depot=depot)
    make_charging_session(
        charger,
        driver_id=user.driver.id,
        vehicle_id=car.id,
        last_soc=57.0,
        last_meter_wh=1_004_000,
        last_meter_at=portal_clock.now(),
    )
    login(user)
    home = client.get("/conductor/vehicle-status", headers=HX).text
    charging = client.get("/conductor/cargar/en-curso", headers=HX).text
    assert "Cargando" in home
    assert "Cargando ahora" in charging
    assert ">57<" in home
    assert "57 <small>%</small>" in charging
    assert "55" not in home


def test_without_a_session_neither_page_says_charging(
    db, client, login, driver_at_vallejo, make_charger
):
    user, car, depot = driver_at_vallejo
    make_charger(depot=depot)
    login(user)
    # At the depot the tracker still says charging (the session has just ended): plugged in.
    place_report(db, car, 19.4896, -99.1467, soc=80, charging=True)
    home = client.get("/conductor/vehicle-status", headers=HX).text
    charging = client.get("/conductor/cargar/en-curso", headers=HX).text
    assert "Conectado" in home
    assert "Cargando" not in home
    assert "No estás cargando" in charging
    # Away from our depots: charging on someone else's charger, both pages say so.
    place_report(db, car, 19.4326, -99.1332, soc=81, charging=True, minutes_ago=1)
    home = client.get("/conductor/vehicle-status", headers=HX).text
    charging = client.get("/conductor/cargar/en-curso", headers=HX).text
    assert "Cargando fuera del depósito" in home
    assert "No estás cargando" in charging
    assert "cargando fuera del depósito" in charging
