"""The driver's home (phone): their car and contract, the car's card that htmx polls,
never another driver's car."""

from datetime import date, datetime, time, timedelta

import pytest

from portal.models import Role
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today
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
