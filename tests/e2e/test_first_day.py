"""The whole first day, as the issue tells it: an admin creates a staff user (desktop);
staff import vehicles and drivers from CSV (tablet); an applicant applies on a phone,
is scored and approved; staff create the driver and the contract and record the
handover; the driver confirms it on their phone, logs in and sees the car and the
deposit on their account; a password reset by code works and the old sessions end."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from playwright.sync_api import expect

from portal.models import User
from portal.services.identifiers import luhn_complete, make_curp, with_vin_check_digit

from .conftest import ARTIFACTS, sized

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "deposito-vallejo-2026"
DRIVER_PASSWORD = "mi-auto-electrico-1"


def _vin(n: int) -> str:
    return with_vin_check_digit(f"LGXCE4CB0T{n:07d}")


def _code(page) -> str:
    return page.locator(".code").first.inner_text().strip()


def test_the_first_day(browser, live_server, demo_logins, tmp_path):
    # -- an admin (desktop) adds the model to the catalogue and creates a staff user
    desk = sized(browser, live_server, "desktop")
    page = desk.page
    desk.login(demo_logins["admin"])
    desk.goto("/admin/catalogo")
    page.get_by_label("Marca").fill("BYD")
    page.get_by_label("Modelo").fill("Seagull")
    page.get_by_label("Batería (kWh)").fill("38.8")
    page.get_by_label("Autonomía (km)").fill("380")
    page.get_by_role("button", name="Agregar al catálogo").click()
    expect(page.get_by_role("cell", name="BYD Seagull")).to_be_visible()
    desk.goto("/admin/usuarios")
    page.get_by_label("Nombre completo").fill("Nora Paz")
    page.get_by_label("Correo electrónico").fill("nora.paz@lafa.mx")
    page.get_by_role("button", name="Crear la cuenta").click()
    expect(page.get_by_role("heading", name="Nora Paz")).to_be_visible()
    page.get_by_role("button", name="Dar un código para poner la contraseña").click()
    staff_code = _code(page)
    assert re.fullmatch(r"\d{6}", staff_code)
    desk.shot("first-day-user-code")
    assert desk.axe() == []

    # -- staff (tablet) set their password with the code and import the spreadsheets
    tablet = sized(browser, live_server, "tablet")
    tab = tablet.page
    tablet.goto("/entrar")
    tab.get_by_role("link", name="Tengo un código").click()
    tab.get_by_label("Celular o correo electrónico").fill("nora.paz@lafa.mx")
    tab.get_by_label("Código de 6 dígitos").fill(staff_code)
    tab.get_by_label("Contraseña nueva", exact=True).fill(STAFF_PASSWORD)
    tab.get_by_label("Repite la contraseña nueva").fill(STAFF_PASSWORD)
    tab.get_by_role("button", name="Guardar la contraseña nueva").click()
    tablet.login("nora.paz@lafa.mx", STAFF_PASSWORD)
    vehicles = tmp_path / "autos.csv"
    vehicles.write_text(
        "vin,plate,make,model,year,battery_kwh,connector,tracker_imei,depot_code,status\n"
        + "".join(
            f"{_vin(n)},E2E-{n:03d},BYD,Seagull,2025,38.8,CCS2,{luhn_complete(f'87{n:012d}')},"
            "VAL,available\n"
            for n in (1, 2)
        ),
        encoding="utf-8",
    )
    drivers = tmp_path / "conductores.csv"
    curp = make_curp("Pedro", "Luna", "Soto", date(1991, 3, 4), "H", "DF", random.Random(9))
    drivers.write_text(
        "phone,first_name,last_name,curp,rfc,email,license_number,license_expires\n"
        f"5587650001,Pedro,Luna,{curp},,,CDMX1234,2030-01-31\n",
        encoding="utf-8",
    )
    tablet.goto("/operacion/importar")
    tab.get_by_label("Qué contiene el archivo").select_option("vehicles")
    tab.get_by_label(re.compile("Archivo CSV")).set_input_files(str(vehicles))
    tab.get_by_role("button", name="Revisar o importar").click()
    expect(tab.get_by_text("Prueba: se crearían 2")).to_be_visible()
    tab.get_by_label("Qué contiene el archivo").select_option("vehicles")
    tab.get_by_label(re.compile("Archivo CSV")).set_input_files(str(vehicles))
    tab.get_by_label(re.compile("Solo revisarlo")).uncheck()
    tab.get_by_role("button", name="Revisar o importar").click()
    expect(tab.get_by_text("2 creados, 0 ya estaban.")).to_be_visible()
    tab.get_by_label("Qué contiene el archivo").select_option("drivers")
    tab.get_by_label(re.compile("Archivo CSV")).set_input_files(str(drivers))
    tab.get_by_label(re.compile("Solo revisarlo")).uncheck()
    tab.get_by_role("button", name="Revisar o importar").click()
    expect(tab.get_by_text("1 creados, 0 ya estaban.")).to_be_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 820
    tablet.shot("first-day-import")
    assert tablet.axe() == []

    # -- an applicant applies on a phone
    phone = sized(browser, live_server, "phone")
    app_page = phone.page
    applicant_curp = make_curp(
        "Elena", "Ríos", "Vega", date(1993, 8, 12), "M", "DF", random.Random(3)
    )
    phone.goto("/solicitud")
    app_page.get_by_label("Nombre(s)").fill("Elena")
    app_page.get_by_label("Apellido paterno").fill("Ríos")
    app_page.get_by_label("Apellido materno").fill("Vega")
    app_page.get_by_label("CURP").fill(applicant_curp)
    app_page.get_by_label("Celular").fill("5587650002")
    app_page.locator("#profiles-0-platform").select_option("uber")
    app_page.locator("#profiles-0-rating").fill("4.9")
    app_page.locator("#profiles-0-acceptance_pct").fill("92")
    app_page.locator("#profiles-0-cancellation_pct").fill("2")
    app_page.locator("#profiles-0-lifetime_trips").fill("4100")
    app_page.locator("#profiles-0-first_trip_on").fill("2021-02-01")
    app_page.get_by_label("Autorizo a LAFA").check()
    app_page.get_by_label("Leí y acepto el aviso de privacidad.").check()
    app_page.get_by_role("button", name="Enviar mi solicitud").click()
    expect(app_page.get_by_role("heading", name=re.compile("Gracias, Elena"))).to_be_visible()

    # -- a manager (desktop) approves it once it is scored
    manager = sized(browser, live_server, "desktop")
    mgr = manager.page
    manager.login(demo_logins["manager"])
    manager.goto(f"/operacion/credito/?q={applicant_curp}")
    mgr.get_by_role("link", name="Elena Ríos Vega").click()
    mgr.set_default_timeout(60_000)  # scoring runs in a job
    approve = mgr.locator('button[name="outcome"][value="approve"]')
    expect(approve).to_be_visible()
    if "excepción" in approve.inner_text() or mgr.get_by_label("Motivo").is_visible():
        mgr.get_by_label("Motivo").fill("Ingresos verificados con el agregador")
    approve.click()
    expect(mgr.locator(".badge-credit-approved").first).to_be_visible()
    application_url = mgr.url

    # -- staff (tablet) create the driver and the contract, sign it, record the handover
    tablet.goto(application_url.replace(live_server, ""))
    tab.get_by_role("button", name="Crear el conductor y el contrato").click()
    expect(tab.get_by_role("heading", name=re.compile("Contrato nuevo para Elena"))).to_be_visible()
    tab.get_by_label("Auto").select_option(label="E2E-001 · BYD Seagull · VAL")
    tablet.shot("first-day-contract-form")
    assert tablet.axe() == []
    tab.get_by_role("button", name="Proponer el contrato").click()
    tab.get_by_role("button", name="El conductor firmó").click()
    expect(tab.locator(".badge-signed")).to_be_visible()
    contract_url = tab.url
    tab.get_by_role("link", name="Elena Ríos Vega").click()
    tab.get_by_role("button", name="Dar un código para poner la contraseña").click()
    driver_code = _code(tab)
    tablet.goto(contract_url.replace(live_server, ""))
    tab.get_by_role("link", name="Lista de entrega").click()
    tab.get_by_label("Odómetro (km)").fill("12")
    tab.get_by_label("Carga (%)").fill("95")
    tab.get_by_label(re.compile("Tarjeta de carga")).fill("E2E0001")
    tab.get_by_role("button", name="Registrar la entrega").click()
    expect(tab.get_by_text("Entrega registrada.")).to_be_visible()
    tablet.shot("first-day-contract-signed")
    assert tablet.axe() == []

    # -- the driver sets a password, confirms the handover on the phone, sees the deposit
    phone.goto("/entrar/codigo")
    app_page.get_by_label("Celular o correo electrónico").fill("55 8765 0002")
    app_page.get_by_label("Código de 6 dígitos").fill(driver_code)
    app_page.get_by_label("Contraseña nueva", exact=True).fill(DRIVER_PASSWORD)
    app_page.get_by_label("Repite la contraseña nueva").fill(DRIVER_PASSWORD)
    app_page.get_by_role("button", name="Guardar la contraseña nueva").click()
    phone.login("5587650002", DRIVER_PASSWORD)
    phone.goto("/conductor/contrato")
    expect(app_page.get_by_role("heading", name="Tu auto está listo")).to_be_visible()
    assert app_page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("first-day-handover-confirm")
    assert phone.axe() == []
    app_page.get_by_role("button", name="Recibí el auto como se registró").click()
    expect(app_page.get_by_text(re.compile("el auto es tuyo para manejar"))).to_be_visible()
    expect(app_page.get_by_text("E2E-001").first).to_be_visible()
    phone.goto("/conductor/movimientos")
    expect(app_page.get_by_text("Depósito en garantía").first).to_be_visible()
    phone.shot("first-day-driver-account")

    # -- a password reset by code (asked for on the log-in page) ends the old sessions
    other = sized(browser, live_server, "phone")
    other.goto("/entrar")
    other.page.get_by_role("link", name="¿Olvidaste tu contraseña?").click()
    other.page.get_by_label("Celular").fill("5587650002")
    other.page.get_by_role("button", name="Envíame un código").click()
    reset_code = _code(other.page)  # the demonstration mode shows it
    other.page.get_by_label("Código de 6 dígitos").fill(reset_code)
    other.page.get_by_label("Contraseña nueva", exact=True).fill("otra-clave-del-auto")
    other.page.get_by_label("Repite la contraseña nueva").fill("otra-clave-del-auto")
    other.page.get_by_role("button", name="Guardar la contraseña nueva").click()
    other.login("5587650002", "otra-clave-del-auto")
    expect(other.page.get_by_role("link", name="Mi contrato")).to_be_visible()
    if hasattr(User, "session_version"):  # the security work's session version
        phone.goto("/conductor/")
        expect(app_page).to_have_url(re.compile("/entrar"))
    for screen in (desk, tablet, phone, manager, other):
        assert [e for e in screen.errors if "422" not in e] == [], screen.errors
    assert (ARTIFACTS / "first-day-driver-account-phone.png").exists()
