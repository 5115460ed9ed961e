"""Telemetry on screen: simulated trackers' records go through the ingest, the driver's
phone shows the car's charge (and updates without a reload), the staff board on a
tablet shows the fleet on the map, the vehicle detail charts it."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.db import make_engine
from portal.models import Contract, ContractStatus, Driver, User, Vehicle
from telemetry import store as ingest
from telemetry.simulate import SimVehicle

from .conftest import sized

pytestmark = pytest.mark.e2e


def _ingest_fleet(url: str, minutes: int = 20) -> None:
    """Twenty minutes of every demo car's tracker, a record a minute, stored."""
    engine = make_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    with OrmSession(engine) as session:
        vehicles = session.scalars(select(Vehicle).order_by(Vehicle.id)).all()
        batch = []
        for vehicle in vehicles:
            depot = vehicle.depot
            sim = SimVehicle(
                str(vehicle.tracker_imei),
                float(vehicle.battery_kwh),
                float(vehicle.range_km),
                (float(depot.latitude), float(depot.longitude)),
                random.Random(vehicle.id),
            )
            sim.dwell_s = 0
            for minute in range(minutes, 0, -1):
                sim.step(60 * 5)
                sim.no_fix_s = 0
                batch.append((sim.imei, sim.record(now - timedelta(minutes=minute))))
        ingest.store_records(session, batch, now)
        session.commit()
    engine.dispose()


def _set_soc(url: str, phone: str, soc: int) -> None:
    engine = make_engine(url)
    with OrmSession(engine) as session:
        vehicle = session.scalar(
            select(Vehicle)
            .join(Contract, Contract.vehicle_id == Vehicle.id)
            .join(Driver, Driver.id == Contract.driver_id)
            .join(User, User.id == Driver.user_id)
            .where(User.phone == phone, Contract.status == ContractStatus.ACTIVE)
        )
        sim = SimVehicle(str(vehicle.tracker_imei), 38.8, 380, (19.43, -99.13), random.Random(1))
        sim.no_fix_s = 0
        sim.soc = soc
        ingest.store_records(
            session, [(sim.imei, sim.record(datetime.now(UTC)))], datetime.now(UTC)
        )
        session.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def fleet_reporting(demo_database):
    _ingest_fleet(demo_database)
    return demo_database


def test_driver_phone_shows_the_charge_and_refreshes_it(
    browser, live_server, demo_logins, fleet_reporting
):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    page = phone.page
    card = page.locator("#vehicle-status")
    expect(card.get_by_text("Tu auto ahora")).to_be_visible()
    expect(card.locator(".soc-value")).to_have_text(re.compile(r"^\d{1,3}$"))
    expect(card.get_by_text("Autonomía estimada")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("driver-car-status")
    assert phone.axe() == []

    # A new reading arrives: the card shows it without a page load (htmx, every 15 s).
    page.evaluate("window.__stillHere = true")
    _set_soc(fleet_reporting, demo_logins["driver"], 7)
    expect(card.locator(".soc-value")).to_have_text("7", timeout=25_000)
    assert page.evaluate("window.__stillHere") is True
    phone.shot("driver-car-status-updated")
    assert phone.errors == []


def test_staff_board_on_a_tablet(browser, live_server, demo_logins, fleet_reporting):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    page = tablet.page
    tablet.goto("/operacion/tablero")
    expect(page.get_by_role("heading", name="Tablero de la flota")).to_be_visible()
    expect(page.locator(".map-dot").first).to_be_visible()
    assert page.locator(".map-dot").count() >= 30
    tablet.shot("fleet-board")
    assert tablet.axe() == []

    page.evaluate("window.__stillHere = true")
    page.get_by_label("Ordenar por").select_option("soc")
    expect(page).to_have_url(re.compile(r"sort=soc"))
    page.wait_for_load_state("networkidle")
    socs = [
        int(t.strip().rstrip("%")) for t in page.locator(".board-table .soc-mini").all_inner_texts()
    ]
    assert socs == sorted(socs)
    assert page.evaluate("window.__stillHere") is True

    page.locator(".board-table .plate-cell a").first.click()
    expect(page.get_by_role("heading", name="Carga y velocidad")).to_be_visible()
    expect(page.locator("polyline.line-soc").first).to_be_visible()
    page.get_by_role("link", name="7 días").click()
    expect(page).to_have_url(re.compile(r"period=7d"))
    tablet.shot("vehicle-detail")
    assert tablet.axe() == []
    assert tablet.errors == []
