"""What a person sees: each role logs in at its device's size, in Spanish."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import sized

pytestmark = pytest.mark.e2e


def test_log_in_page_at_every_size(screen):
    screen.goto("/entrar")
    expect(screen.page.get_by_role("heading", level=1)).to_have_text(
        "Te damos la bienvenida a LAFA"
    )
    screen.shot("login")
    assert screen.axe() == []
    assert screen.errors == []


def test_wrong_password_shows_a_spanish_message(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"], "contraseña-equivocada")
    expect(phone.page.locator(".error")).to_contain_text("no son correctos")
    phone.shot("login-error")
    assert phone.axe() == []


def test_driver_on_a_phone_sees_their_car(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    expect(phone.page).to_have_url(re.compile(r"/conductor/$"))
    expect(phone.page.get_by_role("heading", name=re.compile("Hola"))).to_be_visible()
    expect(phone.page.locator(".plate")).to_be_visible()
    expect(phone.page.get_by_text(re.compile(r"Renta semanal: \$\d"))).to_be_visible()
    # Nothing is wider than the phone.
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("driver-home")
    assert phone.axe() == []
    assert phone.errors == []


def test_staff_on_a_tablet_filter_the_fleet_without_reloading(browser, live_server, demo_logins):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    page = tablet.page
    expect(page).to_have_url(re.compile(r"/operacion/flota$"))
    expect(page.get_by_role("heading", name="Flota")).to_be_visible()
    tablet.shot("fleet")
    assert tablet.axe() == []

    page.evaluate("window.__stillHere = true")
    page.get_by_label("Estado").select_option("in_repair")
    expect(page).to_have_url(re.compile(r"status=in_repair"))
    page.wait_for_load_state("networkidle")
    rows = page.locator("#results tbody tr")
    for badge in rows.locator(".badge").all_inner_texts():
        assert badge == "En reparación"
    assert page.evaluate("window.__stillHere") is True  # htmx swapped, no reload

    page.get_by_label("Estado").select_option("")
    page.get_by_label("Placa").fill("zzz-no-existe")
    expect(page.locator("#results")).to_contain_text("Ningún vehículo coincide")
    assert page.evaluate("window.__stillHere") is True
    tablet.shot("fleet-filtered")
    assert tablet.errors == []


@pytest.mark.parametrize(
    ("role", "heading"), [("manager", "Gerencia"), ("admin", "Administración")]
)
def test_managers_and_admins_on_a_desktop(browser, live_server, demo_logins, role, heading):
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins[role])
    expect(desktop.page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    desktop.shot(f"{role}-home")
    assert desktop.axe() == []
    assert desktop.errors == []


def test_language_switch_is_remembered(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    phone.page.get_by_role("button", name="EN").click()
    expect(phone.page.get_by_role("heading", name=re.compile("Hello"))).to_be_visible()
    phone.page.reload()
    expect(phone.page.get_by_text("Weekly rent")).to_be_visible()
    phone.shot("driver-home-en")
    phone.page.get_by_role("button", name="ES").click()
    expect(phone.page.get_by_role("heading", name=re.compile("Hola"))).to_be_visible()


def test_a_driver_cannot_open_staff_pages(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    response = phone.page.goto(live_server + "/operacion/flota")
    assert response.status == 403
    expect(phone.page.get_by_text("No tienes acceso a esta página.")).to_be_visible()
    phone.shot("forbidden")
    assert phone.axe() == []
