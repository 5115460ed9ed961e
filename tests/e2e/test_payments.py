"""Paying on a phone and collecting on a tablet, against the live portal.

The payment takes the real path: the driver creates an OXXO reference (demonstration
provider), the test sends a Stripe-signed webhook to the live server, the balance drops
and the collections list changes."""

import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.db import make_engine
from portal.models import Driver, EntryKind, PaymentIntent, PaymentMethod, User
from portal.payments.demo import stripe_shaped_event
from portal.payments.signatures import stripe_header
from portal.services.ledger import driver_balance, post_entry

from .conftest import E2E_WEBHOOK_SECRET, sized

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def db_session(demo_database):
    engine = make_engine(demo_database)
    with OrmSession(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def owing_driver(db_session, demo_logins):
    """The demo driver, owing one more week of rent than the demo gave them."""
    driver = db_session.scalar(
        select(Driver)
        .join(User, Driver.user_id == User.id)
        .where(User.phone == demo_logins["driver"])
    )
    post_entry(
        db_session,
        driver_id=driver.id,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        idempotency_key=f"e2e:rent:{driver.id}",
        description="Renta semanal",
    )
    db_session.commit()
    return driver


def _balance(session, driver):
    session.expire_all()
    return driver_balance(session, driver.id)


def test_driver_pays_at_oxxo_and_staff_see_collections_change(
    browser, live_server, demo_logins, db_session, owing_driver
):
    before = _balance(db_session, owing_driver)
    assert before >= 350_000

    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    tablet.goto("/operacion/cobranza")
    expect(tablet.page.get_by_role("heading", name="Cobranza")).to_be_visible()
    tablet.page.evaluate("window.__stillHere = true")
    tablet.page.get_by_label("Nombre o celular").fill(owing_driver.phone)
    expect(tablet.page.locator("#results")).to_contain_text(owing_driver.first_name)
    csv_link = tablet.page.get_by_role("link", name="Exportar a CSV")
    expect(csv_link).to_have_attribute("href", re.compile(rf"q={owing_driver.phone}"))
    assert tablet.page.evaluate("window.__stillHere") is True  # htmx swapped, no reload
    tablet.shot("collections-before")
    assert tablet.axe() == []

    phone = sized(browser, live_server, "phone")
    phone.login(demo_logins["driver"])
    phone.page.get_by_role("link", name="Pagar").first.click()
    amount = phone.page.get_by_label("Monto a pagar (pesos)")
    expect(amount).to_have_value(f"{before // 100}.{before % 100:02d}")
    expect(phone.page.get_by_text("Modo demostración.")).to_be_visible()
    phone.shot("pay")
    assert phone.axe() == []
    amount.fill("3500")
    phone.page.get_by_label("Efectivo en OXXO").check()
    phone.page.get_by_role("button", name="Continuar").click()
    expect(phone.page.get_by_text("Referencia OXXO", exact=True)).to_be_visible()
    expect(phone.page.get_by_text("hora de la Ciudad de México")).to_be_visible()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("oxxo-reference")
    assert phone.axe() == []

    intent_id = int(re.search(r"/conductor/pagos/(\d+)$", phone.page.url).group(1))
    intent = db_session.get(PaymentIntent, intent_id)
    assert intent.driver_id == owing_driver.id
    assert intent.method == PaymentMethod.OXXO
    assert " ".join(re.findall(r".{1,4}", intent.reference)) in phone.page.inner_text("main")

    body = stripe_shaped_event(intent)
    request = urllib.request.Request(  # noqa: S310 - the live test server
        live_server + "/webhooks/stripe",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_header(body, E2E_WEBHOOK_SECRET, int(time.time())),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200

    assert _balance(db_session, owing_driver) == before - 350_000
    phone.page.reload()
    expect(phone.page.locator(".badge")).to_have_text("Pagado")
    phone.shot("oxxo-paid")
    phone.goto("/conductor/pagos")
    expect(phone.page.locator(".payment-item").first).to_contain_text("Pagado")
    phone.shot("payments-history")
    assert phone.axe() == []
    assert phone.errors == []

    tablet.page.reload()
    remaining = before - 350_000
    if remaining > 0:
        expect(tablet.page.locator("#results")).to_contain_text(f"${remaining / 100:,.2f}")
    else:
        expect(tablet.page.locator("#results")).to_contain_text("Nadie tiene adeudo")
    tablet.shot("collections-after")
    assert tablet.errors == []


def test_driver_copies_their_spei_clabe(browser, live_server, demo_logins, owing_driver):
    phone = sized(browser, live_server, "phone")
    phone.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    phone.login(demo_logins["driver"])
    phone.goto("/conductor/pagar")
    phone.page.get_by_label("Monto a pagar (pesos)").fill("500")
    phone.page.get_by_label("Transferencia SPEI desde la app de tu banco").check()
    phone.page.get_by_role("button", name="Continuar").click()
    clabe = phone.page.locator("#clabe")
    expect(clabe).to_be_visible()
    phone.page.get_by_role("button", name="Copiar CLABE").click()
    expect(phone.page.locator(".copy-status")).to_have_text("CLABE copiada")
    copied = phone.page.evaluate("navigator.clipboard.readText()")
    assert copied == clabe.inner_text().replace(" ", "")
    phone.shot("spei-clabe")
    assert phone.axe() == []
    assert phone.errors == []


def test_staff_record_cash_on_a_tablet(browser, live_server, demo_logins, owing_driver):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["staff"])
    tablet.goto(f"/operacion/conductores/{owing_driver.id}/estado")
    expect(tablet.page.get_by_role("heading", name=re.compile("Estado de cuenta"))).to_be_visible()
    tablet.shot("driver-ledger")
    assert tablet.axe() == []
    tablet.page.get_by_role("link", name="Registrar pago en efectivo").click()
    tablet.page.get_by_label("Monto recibido (pesos)").fill("0")
    tablet.page.get_by_label("Número de recibo").fill("E2E-0001")
    tablet.page.get_by_role("button", name="Registrar pago").click()
    expect(tablet.page.locator(".error")).to_contain_text("mayor que cero")
    tablet.shot("cash-error")
    assert tablet.axe() == []
    tablet.page.get_by_label("Monto recibido (pesos)").fill("200")
    tablet.page.get_by_role("button", name="Registrar pago").click()
    expect(tablet.page.locator(".flash")).to_contain_text("recibo E2E-0001")
    expect(tablet.page.locator("#entries")).to_contain_text("recibo E2E-0001")
    tablet.shot("cash-recorded")
    # The refused form answered 422, which the browser logs; nothing else may be there.
    assert [e for e in tablet.errors if "422" not in e] == []


def test_a_manager_sees_the_whole_account_on_a_tablet(
    browser, live_server, demo_logins, owing_driver
):
    tablet = sized(browser, live_server, "tablet")
    tablet.login(demo_logins["manager"])
    tablet.goto(f"/operacion/conductores/{owing_driver.id}/movimientos")  # the old URL
    expect(tablet.page).to_have_url(re.compile(rf"/conductores/{owing_driver.id}/estado$"))
    expect(tablet.page.get_by_role("heading", name="Cómo pagar")).to_be_visible()
    expect(tablet.page.locator("#clabe")).to_be_visible()  # the CLABE the provider issued
    expect(tablet.page.get_by_role("heading", name="Estados de cuenta")).to_be_visible()
    tablet.page.locator("#entries summary").first.click()  # a reversal, for managers
    expect(tablet.page.get_by_role("button", name="Revertir movimiento").first).to_be_visible()
    tablet.shot("driver-account-manager")
    assert tablet.axe() == []
    assert tablet.errors == []
