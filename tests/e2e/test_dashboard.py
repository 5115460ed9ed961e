"""The manager's KPI dashboard at desktop (1440) and tablet (820) sizes."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import sized

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", ["desktop", "tablet"])
def test_manager_opens_the_dashboard_and_filters_it(browser, live_server, demo_logins, size):
    screen = sized(browser, live_server, size)
    screen.login(demo_logins["manager"])
    page = screen.page
    screen.goto("/gerencia/")
    page.get_by_role("link", name="Indicadores").click()
    expect(page.get_by_role("heading", name="Indicadores", exact=True)).to_be_visible()
    for title in (
        "Utilización de la flota",
        "Cobranza",
        "Energía",
        "Incidentes",
        "Solicitudes de crédito",
    ):
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("#panel-fleet svg")).to_be_visible()
    # The seed's history, rolled up: closed days from the summary, with its age.
    expect(page.locator("#data-note")).to_contain_text("Datos al cierre del")
    expect(page.locator("#data-note")).to_contain_text("actualizado hace")
    # Last month has km and charging sessions (the demo's history), not zeros.
    # Every change asks for the panels at once, and each answer rewrites the date fields
    # with the period in effect: let each answer land before the next field is typed.
    start = f"{(date.today() - timedelta(days=35)):%Y-%m-%d}"
    end = f"{(date.today() - timedelta(days=5)):%Y-%m-%d}"

    def panels(response):
        return "/gerencia/indicadores" in response.url

    with page.expect_response(panels):
        page.get_by_label("Periodo").select_option("custom")
    for label, value in (("Desde", start), ("Hasta", end)):
        with page.expect_response(panels):
            page.get_by_label(label).fill(value)
    expect(page.get_by_label("Desde")).to_have_value(start)
    expect(page.get_by_label("Hasta")).to_have_value(end)
    page.get_by_role("button", name="Aplicar").click()
    expect(page).to_have_url(re.compile(rf"start={start}&end={end}"))
    expect(page).to_have_url(re.compile(r"period=custom"))
    km = page.locator("#panel-km dd").first
    expect(km).not_to_have_text("0")
    assert float(km.inner_text().replace(",", "")) > 90
    sessions = page.locator("#panel-charging dd").first
    expect(sessions).not_to_have_text("0")
    # Early delinquency by cohort: a chart, its numbers, the young cohorts marked.
    credit = page.locator("#panel-credit")
    expect(credit.locator("#chart-delinquency-title")).to_have_text(
        "Morosidad temprana por cohorte (%)"
    )
    expect(credit.get_by_role("img").nth(1)).to_be_visible()
    expect(credit.get_by_text("Demasiado reciente para evaluar").first).to_be_attached()
    screen.shot("dashboard-history")
    page.get_by_label("Periodo").select_option("month")
    expect(page).to_have_url(re.compile(r"period=month"))
    expect(page.get_by_role("link", name="Descargar CSV")).to_have_attribute(
        "href", re.compile(r"period=month")
    )
    screen.shot("dashboard")
    assert screen.axe() == []
    # A wrong custom period answers in Spanish, in place.
    page.get_by_label("Periodo").select_option("custom")
    page.get_by_label("Desde").fill("2026-03-10")
    page.get_by_label("Hasta").fill("2026-03-01")
    page.get_by_role("button", name="Aplicar").click()
    expect(page.get_by_text("El último día no puede ser anterior al primero.")).to_be_visible()
    # The 422 itself is logged by the browser as a failed load; nothing else may be.
    assert [e for e in screen.errors if "422" not in e] == [], screen.errors
