"""Charging in the browser: a driver books a slot on a phone, staff see the chargers on a
tablet, managers the energy chart, admins the charger registry."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import sized

pytestmark = pytest.mark.e2e


def test_driver_on_a_phone_books_a_slot_and_sees_it(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    page = phone.page
    page.get_by_role("link", name="Cargar").click()
    expect(page.get_by_role("heading", name="Carga tu auto")).to_be_visible()
    expect(page.get_by_role("heading", name="No estás cargando")).to_be_visible()
    phone.shot("charging-driver")
    assert phone.axe() == []

    page.evaluate("window.__stillHere = true")
    page.get_by_label("Mañana").check()
    expect(page).to_have_url(re.compile(r"day=\d{4}-\d\d-\d\d"))
    page.wait_for_load_state("networkidle")
    slot = page.locator("a.slot").first
    time_text = slot.locator(".slot-time").inner_text()
    slot.click()
    confirm = page.locator("#confirm")
    expect(confirm.get_by_role("heading", name="Confirma tu reserva")).to_be_visible()
    assert page.evaluate("window.__stillHere") is True  # the confirmation came in place
    phone.shot("charging-confirm")
    assert phone.axe() == []
    confirm.get_by_role("button", name="Reservar este horario").click()

    expect(page.locator(".flash")).to_contain_text("Horario reservado")
    bookings = page.get_by_role("heading", name="Tus reservas").locator("..")
    expect(bookings).to_contain_text(time_text)
    expect(bookings).to_contain_text("Reservado")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("charging-booked")
    assert phone.axe() == []

    # Cancel it again, with the confirmation, so the test can run twice.
    bookings.get_by_role("link", name="Cancelar").first.click()
    page.get_by_role("button", name="Sí, cancelarla").click()
    expect(page.locator(".flash")).to_contain_text("Tu reserva se canceló")
    assert phone.errors == []


def test_staff_on_a_tablet_see_every_charger_with_its_status(browser, live_server, demo_logins):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    page = tablet.page
    page.get_by_role("link", name="Cargadores").click()
    expect(page.get_by_role("heading", name="Cargadores", level=1)).to_be_visible()
    cards = page.locator("#board section.card[aria-labelledby^=charger-]")
    expect(cards).to_have_count(5)
    # No CSMS runs in this test: every demo charger is shown offline, without buttons.
    expect(page.locator("#board .badge-offline")).to_have_count(5)
    expect(page.get_by_role("heading", name="Reservas de hoy")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    tablet.shot("charging-board")
    assert tablet.axe() == []

    page.get_by_label("Depósito", exact=True).select_option(label="Depósito Iztapalapa")
    expect(page).to_have_url(re.compile(r"depot=\d+"))
    expect(page.locator("#board")).to_contain_text("LAFA-IZT-01")
    page.get_by_role("link", name="Depósito Iztapalapa 1").click()
    expect(page.get_by_role("heading", name="Bitácora de órdenes")).to_be_visible()
    tablet.shot("charging-detail")
    assert tablet.axe() == []
    assert tablet.errors == []


def test_managers_see_energy_per_depot(browser, live_server, demo_logins):
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins["manager"])
    desktop.page.get_by_role("link", name="Energía").click()
    expect(desktop.page.get_by_role("heading", name="Energía por depósito")).to_be_visible()
    expect(desktop.page.locator("svg.chart")).to_be_visible()
    desktop.shot("charging-energy")
    assert desktop.axe() == []
    assert desktop.errors == []


def test_admins_register_chargers(browser, live_server, demo_logins):
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins["admin"])
    page = desktop.page
    page.get_by_role("link", name="Registro de cargadores").click()
    expect(page.get_by_role("heading", name="Registrar un cargador")).to_be_visible()
    page.get_by_label("Identidad OCPP").fill("LAFA-E2E-01")
    page.get_by_label("Depósito").select_option(label="Depósito Iztapalapa")
    page.locator("#connectors-0-connector_type").select_option("CCS2")
    page.locator("#connectors-0-max_kw").fill("60")
    page.get_by_role("button", name="Registrar").click()
    # The generated password, shown once.
    expect(page.get_by_role("heading", name="Cargador LAFA-E2E-01 registrado")).to_be_visible()
    expect(page.locator("code.secret")).to_have_text(re.compile(r"^[A-Za-z0-9]{32}$"))
    expect(page.get_by_role("link", name="LAFA-E2E-01")).to_be_visible()
    desktop.shot("charging-registry")
    assert desktop.axe() == []
    page.get_by_role("link", name="Tarjetas de carga").first.click()
    expect(page.get_by_role("heading", name="Dar una tarjeta a un conductor")).to_be_visible()
    desktop.shot("charging-tags")
    assert desktop.axe() == []
    assert desktop.errors == []


def test_a_manager_turns_planning_on_and_a_driver_chooses_how_full(
    browser, live_server, demo_logins
):
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins["manager"])
    page = desktop.page
    page.goto(live_server + "/gerencia/carga-inteligente")
    expect(page.get_by_role("heading", name="Carga inteligente", level=1)).to_be_visible()
    switches = page.get_by_role("button", name="Encender la planeación")
    depots = switches.count()
    assert depots == 3
    for _ in range(depots):
        switches.first.click()
        page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name="Apagar la planeación")).to_have_count(3)
    desktop.shot("charging-smart")
    assert desktop.axe() == []
    assert desktop.errors == []

    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    phone.goto("/conductor/cargar")
    card = phone.page.locator("#target")
    expect(card.get_by_role("heading", name="¿Qué tan cargado quieres tu auto?")).to_be_visible()
    card.get_by_label("100 %").check()
    card.get_by_role("button", name="Guardar").click()
    expect(card.get_by_role("status")).to_have_text("Guardado: tu auto se cargará al 100 %.")
    phone.shot("charging-target")
    assert phone.axe() == []
    assert phone.errors == []

    # Back as it was for the other tests.
    for _ in range(depots):
        page.get_by_role("button", name="Apagar la planeación").first.click()
        page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name="Encender la planeación")).to_have_count(3)
