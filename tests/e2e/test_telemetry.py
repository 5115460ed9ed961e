"""Telemetry on screen: simulated trackers' records (the demo world's, as the simulator
sends them) go through the ingest, the driver's phone shows the car's charge and where it
is (and updates without a reload), the staff board on a tablet shows the fleet on the
map, the vehicle detail charts it, with the week of history a fresh demo has."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.db import make_engine
from portal.demo.world import LiveWorld, database_loader
from portal.models import Contract, ContractStatus, Driver, User, Vehicle
from telemetry import store as ingest
from telemetry.simulate import PlannedVehicle, SimVehicle, demo_fleet

from .conftest import sized

pytestmark = pytest.mark.e2e


def _demo_trackers(url: str) -> list[PlannedVehicle]:
    """The demo's trackers, reporting what the demo world says (as the simulator does)."""
    return demo_fleet(LiveWorld(database_loader(url), refresh=3600))


def _ingest_fleet(url: str, minutes: int = 20) -> None:
    """Twenty minutes of every demo car's tracker, a record a minute, stored."""
    now = datetime.now(UTC).replace(microsecond=0)
    batch = []
    for tracker in _demo_trackers(url):
        for minute in range(minutes, 0, -1):
            tracker.no_fix_s = 0
            batch.append((tracker.imei, tracker.record(now - timedelta(minutes=minute))))
    engine = make_engine(url)
    with OrmSession(engine) as session:
        ingest.store_records(session, batch, now)
        session.commit()
    engine.dispose()


def _set_soc(url: str, phone: str, soc: int) -> None:
    """The driver's car reports `soc` now (where the world has it)."""
    engine = make_engine(url)
    with OrmSession(engine) as session:
        vehicle_id = session.scalar(
            select(Vehicle.id)
            .join(Contract, Contract.vehicle_id == Vehicle.id)
            .join(Driver, Driver.id == Contract.driver_id)
            .join(User, User.id == Driver.user_id)
            .where(User.phone == phone, Contract.status == ContractStatus.ACTIVE)
        )
        tracker = next(t for t in _demo_trackers(url) if t.vehicle_id == vehicle_id)
        now = datetime.now(UTC)
        tracker.no_fix_s = 0
        tracker.follow(tracker.world.get().car_at(vehicle_id, now))  # type: ignore[union-attr]
        tracker.soc = soc
        record = SimVehicle.record(tracker, now)  # as the plan has it, but at `soc`
        ingest.store_records(session, [(tracker.imei, record)], now)
        session.commit()
    engine.dispose()


def _leased_vehicle_id(url: str) -> int:
    engine = make_engine(url)
    with OrmSession(engine) as session:
        vehicle_id = session.scalar(
            select(Contract.vehicle_id)
            .where(Contract.status == ContractStatus.ACTIVE)
            .order_by(Contract.vehicle_id)
        )
    engine.dispose()
    return int(vehicle_id)


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
    # Where the car is, in words (the demo's history put it somewhere in the city).
    expect(card.get_by_text("Dónde está")).to_be_visible()
    expect(card.locator(".position-place")).to_have_text(
        re.compile(r"^(En el Depósito \w+|En .+|A [\d.,]+ (m|km) del? .+)$")
    )
    assert not re.search(r"19\.\d{5}", card.inner_text())  # no raw coordinates
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
    # A fresh demo has a week of a working car's trips and charging (its history).
    tablet.goto(f"/operacion/vehiculos/{_leased_vehicle_id(fleet_reporting)}?period=7d")
    expect(page.get_by_text("Sin viajes en los últimos 7 días")).to_have_count(0)
    assert page.locator("#trips-title + .table-wrap tbody tr").count() > 10
    assert page.locator("#charging-title + .table-wrap tbody tr").count() >= 4
    tablet.shot("vehicle-week")
    assert tablet.axe() == []
    assert tablet.errors == []
