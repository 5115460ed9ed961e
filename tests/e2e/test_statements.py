"""A driver on a phone: balance, last week's statement, its PDF."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import sized

pytestmark = pytest.mark.e2e


def test_driver_sees_balance_opens_last_statement_and_downloads_the_pdf(
    browser, live_server, demo_logins
):
    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    page = phone.page
    expect(page.locator(".account-balance")).to_have_text(re.compile(r"\$\d"))
    expect(page.locator(".account-status")).to_be_visible()
    phone.shot("driver-home-balance")
    assert phone.axe() == []

    page.get_by_role("link", name="Estado de cuenta de la semana pasada").click()
    expect(page.get_by_role("heading", name="Estado de cuenta", level=1)).to_be_visible()
    expect(page.get_by_text("Resumen de la semana")).to_be_visible()
    # The PDF is made in the background; the widget polls until the link appears.
    download_link = page.get_by_role("link", name="Descargar PDF")
    expect(download_link).to_be_visible(timeout=60_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("driver-statement")
    assert phone.axe() == []
    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.startswith("estado-de-cuenta-")
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.get_by_role("link", name="Estados de cuenta").first.click()
    expect(page.locator(".statement-list li").first).to_be_visible()
    phone.shot("driver-statements")
    assert phone.axe() == []
    assert phone.errors == []
