"""What a driver sees and does to pay, through the web (owing_driver: tests/web/conftest.py)."""

import re

import pytest
from sqlalchemy import select

from portal.models import (
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
    PaymentStatus,
)
from portal.services.identifiers import is_valid_clabe
from portal.services.payments import get_driver_clabe


@pytest.fixture
def demo_payments(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENTS_PROVIDER", "demo")


def _pay(client, amount, method="oxxo", key="abcdefgh12345"):
    return client.post(
        "/conductor/pagar", data={"amount": amount, "method": method, "request_key": key}
    )


def test_pay_page_preselects_the_amount_due(client, login, owing_driver, demo_payments):
    login(owing_driver.user)
    page = client.get("/conductor/pagar")
    assert page.status_code == 200
    assert 'value="3500.00"' in page.text
    assert "$3,500.00" in page.text
    assert "Modo demostración" in page.text
    assert "Efectivo en OXXO" in page.text


def test_a_driver_creates_an_oxxo_reference(client, login, db, owing_driver, demo_payments):
    login(owing_driver.user)
    response = _pay(client, "3,500")
    assert response.status_code == 303
    intent = db.scalar(select(PaymentIntent).where(PaymentIntent.driver_id == owing_driver.id))
    assert response.headers["Location"] == f"/conductor/pagos/{intent.id}"
    assert intent.method == PaymentMethod.OXXO
    assert intent.amount_cents == 350_000
    assert intent.status == PaymentStatus.PENDING
    assert intent.provider == PaymentProvider.DEMO
    page = client.get(f"/conductor/pagos/{intent.id}")
    grouped = " ".join(re.findall(r".{1,4}", intent.reference))
    assert grouped in page.text
    assert "hora de la Ciudad de México" in page.text
    # The same form sent twice (a double tap) makes one reference.
    assert _pay(client, "3,500").headers["Location"] == f"/conductor/pagos/{intent.id}"
    assert len(db.scalars(select(PaymentIntent)).all()) == 1


def test_spei_shows_the_drivers_reusable_clabe(client, login, db, owing_driver, demo_payments):
    login(owing_driver.user)
    response = _pay(client, "1000", method="spei", key="spei-key-0001")
    assert response.status_code == 303
    clabe = get_driver_clabe(db, owing_driver.id)
    assert is_valid_clabe(clabe)
    page = client.get(response.headers["Location"])
    assert "Copiar CLABE" in page.text
    assert f'data-copy="{clabe}"' in page.text
    _pay(client, "500", method="spei", key="spei-key-0002")
    assert get_driver_clabe(db, owing_driver.id) == clabe  # always the same one
    assert clabe in client.get("/conductor/spei").text


@pytest.mark.parametrize(
    ("amount", "method", "message"),
    [
        ("0", "oxxo", "El monto debe ser mayor que cero."),
        ("-100", "oxxo", "El monto debe ser mayor que cero."),
        ("50000.01", "spei", "El monto no puede ser mayor que $50,000.00."),
        ("12000", "oxxo", "OXXO acepta como máximo $10,000.00 por referencia"),
        ("5", "oxxo", "OXXO acepta pagos de al menos $10.00."),
        ("tres mil", "oxxo", "Escribe el monto en pesos"),
        ("3500", "card", "Elige cómo quieres pagar."),
    ],
)
def test_bad_amounts_are_refused_in_spanish(
    client, login, db, owing_driver, demo_payments, amount, method, message
):
    login(owing_driver.user)
    response = _pay(client, amount, method=method)
    assert response.status_code == 422
    assert message in response.text
    assert db.scalars(select(PaymentIntent)).all() == []


def test_a_driver_never_sees_another_drivers_payment(client, login, db, make_driver, demo_payments):
    me, other = make_driver(first_name="Dalia"), make_driver(first_name="Elena")
    theirs = PaymentIntent(
        driver_id=other.id,
        provider=PaymentProvider.DEMO,
        method=PaymentMethod.OXXO,
        amount_cents=100_000,
        provider_payment_id="demo_pi_other",
        reference="93001234567890",
        idempotency_key="pay:other:1",
    )
    db.add(theirs)
    db.flush()
    login(me.user)
    assert client.get(f"/conductor/pagos/{theirs.id}").status_code == 404
    assert "93001234567890" not in client.get("/conductor/pagos").text


def test_payment_history_shows_statuses(client, login, db, owing_driver, demo_payments):
    login(owing_driver.user)
    _pay(client, "3500")
    page = client.get("/conductor/pagos")
    assert "Pendiente" in page.text
    assert "$3,500.00" in page.text
