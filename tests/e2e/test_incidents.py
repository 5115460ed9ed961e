"""An accident from the phone to the driver's account: the driver reports it with two
photos, staff move it along on a tablet, a manager charges the deductible."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.db import make_engine
from portal.models import Driver, LedgerEntry, User, Vehicle
from tests import images

from .conftest import sized

pytestmark = pytest.mark.e2e


def _jpeg(name, color):
    return {"name": name, "mimeType": "image/jpeg", "buffer": images.photo(gps=True, color=color)}


def _no_wider_than(screen, width):
    wider = screen.page.evaluate(
        """w => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > w)
            .map(e => e.tagName + '.' + e.className + '#' + e.id)""",
        width,
    )
    assert screen.page.evaluate("document.documentElement.scrollWidth") <= width, wider


def test_an_accident_from_the_phone_to_the_drivers_account(
    browser, live_server, demo_logins, demo_database
):
    # 1. The driver, on a phone, reports the accident with two photos and their position.
    phone = sized(browser, live_server, "phone")
    phone.page.context.grant_permissions(["geolocation"])
    phone.page.context.set_geolocation({"latitude": 19.4326, "longitude": -99.1332, "accuracy": 20})
    phone.login(demo_logins["driver"])
    page = phone.page
    page.get_by_role("link", name="Incidentes").click()
    page.get_by_role("link", name="Reportar un incidente").click()
    expect(page.get_by_role("heading", name="Reportar un incidente")).to_be_visible()
    page.get_by_label("Choque").check()
    page.get_by_label("¿Dónde?").fill("Av. Cuauhtémoc y Eje 4 Sur, Narvarte")
    page.get_by_role("button", name="Usar mi ubicación actual").click()
    expect(page.get_by_text(re.compile(r"Ubicación agregada"))).to_be_visible()
    page.get_by_label("Qué pasó, en pocas palabras").fill(
        "Una camioneta me pegó en la puerta trasera al dar vuelta."
    )
    page.locator("#photos-camera").set_input_files([_jpeg("IMG_0101.jpg", (150, 30, 30))])
    page.locator("#photos-camera").set_input_files([_jpeg("IMG_0102.jpg", (30, 30, 150))])
    expect(page.locator("[data-file-list] li")).to_have_count(2)  # both photos kept
    _no_wider_than(phone, 390)
    phone.shot("incident-report-form")
    assert phone.axe() == []
    page.get_by_role("button", name="Enviar reporte").click()
    expect(page).to_have_url(re.compile(r"/conductor/incidentes/\d+$"))
    expect(page.get_by_text("Recibimos tu reporte")).to_be_visible()
    expect(page.locator(".thumbs img")).to_have_count(2)
    number = page.get_by_role("heading", level=1).inner_text().split("·")[-1].strip()
    incident_url = page.url.replace("/conductor/", "/operacion/")
    _no_wider_than(phone, 390)
    phone.shot("incident-driver-detail")
    assert phone.axe() == []
    assert phone.errors == []

    # 2. Staff, on a tablet, find it in the queue and move it through the workflow.
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    page = tablet.page
    page.on("console", lambda m: print("CONSOLE", m.text[:40], m.location, page.url))
    page.get_by_role("link", name="Incidentes").click()
    page.get_by_label("Tipo").select_option("accident")
    expect(page).to_have_url(re.compile(r"type=accident"))
    page.get_by_role("link", name=number).click()
    expect(page).to_have_url(incident_url)
    tablet.shot("incident-staff-new")
    assert tablet.axe() == []

    page.get_by_role("button", name="Iniciar revisión").click()
    expect(page.locator(".timeline")).to_contain_text(
        "Cambió el estado de Reportado a En revisión."
    )
    page.get_by_label("Aseguradora", exact=True).fill("Qualitas")
    page.get_by_label("Número de siniestro", exact=True).fill("04-2611-555123")
    page.get_by_label("Ajustador (nombre y teléfono)").fill("Ing. Laura Cid, 55 2233 4455")
    page.get_by_role("button", name="Guardar datos del seguro").click()
    expect(page.locator(".timeline")).to_contain_text("Número de siniestro: 04-2611-555123")
    page.get_by_role("button", name="Siniestro abierto").click()
    expect(page.locator(".page-head .badge")).to_have_text("Siniestro abierto")
    page.get_by_role("button", name="Mandar a reparación").click()
    expect(page.locator(".page-head .badge")).to_have_text("En reparación")
    expect(page.locator(".facts")).to_contain_text("En reparación")  # the car follows
    tablet.shot("incident-staff-in-repair")
    assert tablet.axe() == []
    assert page.get_by_role("button", name="Cobrar al conductor").count() == 0  # managers only

    # The car is off the road on the fleet board.
    page.goto(live_server + "/operacion/flota?status=in_repair")
    plate = _plate_of(demo_database, demo_logins["driver"])
    expect(page.locator("#results")).to_contain_text(plate)
    assert tablet.errors == []

    # 3. A manager, on a desktop, charges the deductible; then the repair is done.
    desktop = sized(browser, live_server, "desktop")
    desktop.login(demo_logins["manager"])
    page = desktop.page
    page.goto(incident_url)
    page.get_by_label("Concepto").select_option("deductible")
    page.get_by_label("Monto que paga el conductor").fill("5,000")
    page.get_by_label("Motivo", exact=True).fill("Deducible del siniestro 04-2611-555123")
    page.get_by_role("button", name="Cobrar al conductor").click()
    expect(page.locator(".liabilities")).to_contain_text("$5,000.00")
    page.get_by_role("button", name="Cerrar").click()
    expect(page.locator(".page-head .badge")).to_have_text("Cerrado")
    expect(page.locator(".facts")).to_contain_text("Arrendado")  # back on the road
    desktop.shot("incident-manager-closed")
    assert desktop.axe() == []
    assert desktop.errors == []

    # 4. The driver sees it; the ledger has it once, with the incident as its source.
    phone.page.reload()
    expect(phone.page.get_by_text("Cargado a tu cuenta")).to_be_visible()
    expect(phone.page.locator(".card").filter(has_text="Cargado a tu cuenta")).to_contain_text(
        "$5,000.00"
    )
    phone.shot("incident-driver-charged")
    incident_id = incident_url.rsplit("/", 1)[-1]
    engine = make_engine(demo_database)
    with OrmSession(engine) as session:
        entries = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.source_type == "incident", LedgerEntry.source_id == incident_id
            )
        ).all()
        assert [(e.kind, e.amount_cents) for e in entries] == [("deductible", 500_000)]
    engine.dispose()


def test_a_renamed_file_is_refused_on_the_phone(browser, live_server, demo_logins):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    page = phone.page
    page.goto(live_server + "/conductor/incidentes/nuevo")
    page.get_by_label("Qué pasó, en pocas palabras").fill("Prueba con un archivo que no es foto.")
    page.get_by_label("¿Dónde?").fill("Depósito Vallejo")
    page.locator("#photos-gallery").set_input_files(
        [{"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": images.EXE}]
    )
    page.get_by_role("button", name="Enviar reporte").click()
    expect(page.locator("[data-upload-error]")).to_contain_text("foto.jpg no es una foto")
    expect(page).to_have_url(re.compile(r"/conductor/incidentes/nuevo$"))
    phone.shot("incident-report-refused")
    assert phone.axe() == []


def _plate_of(database_url, phone_number):
    engine = make_engine(database_url)
    with OrmSession(engine) as session:
        from portal.models import Contract, ContractStatus

        plate = session.scalar(
            select(Vehicle.plate)
            .join(Contract, Contract.vehicle_id == Vehicle.id)
            .join(Driver, Driver.id == Contract.driver_id)
            .join(User, User.id == Driver.user_id)
            .where(User.phone == phone_number, Contract.status == ContractStatus.ACTIVE)
        )
    engine.dispose()
    return plate
