"""Battery health on screen, on estimates like the nightly job's: the simulator's six
months of sessions for every demo car (each with its own fade; one worn pack, one car
without enough sessions, one without any), estimated and stored through the service.
The vehicle page's section on a tablet, the managers' fleet page on a desktop, the
driver's card on their contract's page on a phone."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.db import make_engine
from portal.models import Contract, ContractStatus, Driver, User, Vehicle
from telemetry.battery import draw_car, estimate_fleet
from telemetry.battery.simulate import simulate_car
from telemetry.battery.store import store_battery_estimates

from .conftest import sized

pytestmark = pytest.mark.e2e

SEED = 18
START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class BatteryCars:
    drivers: int  # the demo driver's car: estimated
    worn: int  # a pack that loses a third a year: under 85 % after six months
    few: int  # a week of sessions: not enough for an estimate
    none: int  # no usable session at all: no estimate row


@pytest.fixture(scope="module")
def battery_cars(demo_database, demo_logins) -> BatteryCars:
    engine = make_engine(demo_database)
    with OrmSession(engine) as session:
        vehicles = session.scalars(select(Vehicle).order_by(Vehicle.id)).all()
        drivers = session.scalar(
            select(Contract.vehicle_id)
            .join(Driver, Driver.id == Contract.driver_id)
            .join(User, User.id == Driver.user_id)
            .where(User.phone == demo_logins["driver"], Contract.status == ContractStatus.ACTIVE)
        )
        others = [v for v in vehicles if v.id != drivers]
        cars = BatteryCars(drivers, others[0].id, others[1].id, others[2].id)
        sessions = []
        for vehicle in vehicles:
            if vehicle.id == cars.none:
                continue
            car = draw_car(
                SEED,
                str(vehicle.id),
                commissioned=START,
                model=f"{vehicle.make} {vehicle.model}",
                nominal_kwh=float(vehicle.battery_kwh),
            )
            if vehicle.id == cars.worn:
                car = replace(car, fade_percent_per_year=34.0)
            sessions += simulate_car(car, SEED, 7 if vehicle.id == cars.few else 180)
        store_battery_estimates(session, estimate_fleet(sessions, seed=0))
        session.commit()
    engine.dispose()
    return cars


def test_the_vehicle_page_shows_the_battery_with_its_band_and_trend(
    browser, live_server, demo_logins, battery_cars
):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    page = tablet.page
    tablet.goto(f"/operacion/vehiculos/{battery_cars.worn}")
    section = page.locator("#battery")
    expect(section.get_by_role("heading", name="Salud de la batería")).to_be_visible()
    expect(section.locator(".battery-alert").first).to_contain_text("Estado de salud menor a 85%")
    worn_gauge = section.get_by_role("img", name=re.compile(r"^Estado de salud 8\d\.\d%"))
    expect(worn_gauge).to_be_visible()
    expect(section.locator("#battery-trend-title")).to_have_text("Estado de salud por mes")
    expect(section.get_by_text(re.compile(r"^\d+ de \d+$"))).to_be_visible()  # sessions used
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    section.scroll_into_view_if_needed()
    tablet.shot("vehicle-battery")
    assert tablet.axe() == []

    tablet.goto(f"/operacion/vehiculos/{battery_cars.drivers}")
    expect(section.get_by_role("img", name=re.compile(r"^Degradación de"))).to_be_visible()
    expect(section.get_by_text(re.compile(r"^Flota: "))).to_be_visible()  # the fleet's pin
    tablet.shot("vehicle-battery-ordinary")

    tablet.goto(f"/operacion/vehiculos/{battery_cars.few}")
    expect(section).to_contain_text("Aún no hay suficientes cargas para estimar")
    expect(section).to_contain_text("Hasta ahora hay")
    tablet.shot("vehicle-battery-few-sessions")
    tablet.goto(f"/operacion/vehiculos/{battery_cars.none}")
    expect(section).to_contain_text("Aún no hay suficientes cargas para estimar")
    expect(section).to_contain_text("al menos 8 cargas en el depósito")
    assert tablet.axe() == []
    assert tablet.errors == []


def test_managers_see_the_fleet_battery_page(browser, live_server, demo_logins, battery_cars):
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins["manager"])
    page = desktop.page
    desktop.goto("/gerencia/")
    page.get_by_role("link", name="Salud de la batería").click()
    expect(page.get_by_role("heading", name="Salud de la batería", exact=True)).to_be_visible()
    expect(page.locator("#battery-estimated")).to_contain_text("Estimado el")
    for title in (
        "Distribución del estado de salud",
        "Degradación por proporción de carga rápida",
        "Degradación por modelo",
        "Autos a vigilar",
    ):
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("rect.kpi-bar-low")).to_have_count(1)  # the worn pack's bar
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    desktop.shot("fleet-battery")
    assert desktop.axe() == []

    # The worn car heads the cars to watch; its plate opens its vehicle page.
    first = page.locator(".battery-watch tbody tr").first
    expect(first).to_contain_text("Menos de 85%")
    first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/operacion/vehiculos/{battery_cars.worn}#battery$"))
    expect(page.locator("#battery .battery-alert").first).to_be_visible()
    assert desktop.errors == []


def test_the_driver_sees_their_battery_on_the_phone(
    browser, live_server, demo_logins, battery_cars
):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    page = phone.page
    page.get_by_role("link", name="Mi contrato").click()
    card = page.locator("#battery")
    expect(card.get_by_text("La salud de tu batería")).to_be_visible()
    expect(card.locator(".battery-value")).to_have_text(re.compile(r"^\d{2,3}$"))
    expect(card.get_by_text(re.compile(r"^de su capacidad original"))).to_be_visible()
    expect(card.get_by_role("img", name=re.compile(r"^Estado de salud \d"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    card.scroll_into_view_if_needed()
    phone.shot("driver-battery")
    assert phone.axe() == []
    assert phone.errors == []
