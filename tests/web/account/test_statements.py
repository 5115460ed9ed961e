"""The driver's account screens and the staff account page with its reversal."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, EntryKind, LedgerEntry, PaymentMethod, PdfStatus, Role
from portal.payments.demo import DemoClient
from portal.services.billing import post_weekly_rent
from portal.services.ledger import post_entry
from portal.services.payments import ensure_spei_account, get_driver_clabe, start_payment
from portal.services.statements import close_statement, store_pdf
from portal.timeutil import local_midnight, local_today, monday_of
from workers.ledger import render_statement_pdf_job
from workers.statement_pdf import statement_html

LAST_MONDAY = monday_of(local_today()) - timedelta(weeks=1)


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """PDF jobs the pages queue (run for real in tests/workers/test_ledger_jobs.py)."""
    calls = []
    monkeypatch.setattr(render_statement_pdf_job, "delay", lambda *args: calls.append(args))
    return calls


@pytest.fixture
def statement(db, make_contract):
    contract = make_contract(starts_on=LAST_MONDAY - timedelta(weeks=3))
    post_weekly_rent(db, LAST_MONDAY)
    post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.FINE,
        amount_cents=123_400,
        idempotency_key="fine:1",
        description="Multa: vuelta prohibida",
        reference="SSC-26-1234567",
        posted_at=local_midnight(LAST_MONDAY) + timedelta(days=2, hours=10),
    )
    return close_statement(db, contract.id, LAST_MONDAY)


def _driver_user(statement):
    return statement.driver.user


def test_home_shows_balance_due_date_and_days_late(client, login, statement):
    login(_driver_user(statement))
    page = client.get("/conductor/").text
    assert "Debes" in page
    assert "$4,734.00" in page
    assert "account-late" in page  # the rent of last week is past its due date
    assert "de atraso" in page
    assert "Estado de cuenta de la semana pasada" in page


def test_statement_list_and_page_show_the_week(client, login, statement):
    login(_driver_user(statement))
    listing = client.get("/conductor/estados-de-cuenta").text
    assert f"/conductor/estados-de-cuenta/{statement.id}" in listing
    page = client.get(f"/conductor/estados-de-cuenta/{statement.id}")
    assert page.status_code == 200
    assert "Multa de tránsito" in page.text
    assert "SSC-26-1234567" in page.text
    assert "$1,234.00" in page.text
    assert "Generando PDF" in page.text
    assert 'hx-trigger="every 2s"' in page.text
    assert "HX-Request" in page.headers["Vary"]


def test_statement_tells_a_driver_without_a_clabe_how_to_get_one(client, login, statement, db, app):
    login(_driver_user(statement))
    page = client.get(f"/conductor/estados-de-cuenta/{statement.id}").text
    assert "Todavía no tienes CLABE" in page
    assert 'href="/conductor/pagar"' in page
    with app.test_request_context():
        pdf_html = statement_html(db, statement)
    assert "Todavía no tienes CLABE" in pdf_html


def test_statement_shows_the_clabe_the_provider_issued(client, login, statement, db, app):
    driver = statement.driver
    account = ensure_spei_account(db, driver, DemoClient(), "cobranza@lafa.mx")
    clabe = account.clabe
    grouped = f"{clabe[:3]} {clabe[3:6]} {clabe[6:17]} {clabe[17:]}"
    login(_driver_user(statement))
    page = client.get(f"/conductor/estados-de-cuenta/{statement.id}").text
    assert grouped in page
    assert "Banco: STP" in page
    assert "Todavía no tienes CLABE" not in page
    with app.test_request_context():
        pdf_html = statement_html(db, statement)
    assert grouped in pdf_html  # the PDF says the same as the page
    assert get_driver_clabe(db, driver.id) == clabe


def test_the_pdf_widget_polls_until_ready_and_then_stops(
    client, login, statement, db, tmp_path, app, monkeypatch, queued
):
    login(_driver_user(statement))
    url = f"/conductor/estados-de-cuenta/{statement.id}"
    fragment = client.post(url, headers={"HX-Request": "true"}).text  # the widget asks
    assert fragment.lstrip().startswith('<div id="pdf-widget"')
    assert "<html" not in fragment
    assert 'hx-trigger="every 2s"' in fragment
    db.refresh(statement)
    assert statement.pdf_status == PdfStatus.QUEUED
    assert queued == [(statement.id,)]

    monkeypatch.setitem(app.config, "STATEMENTS_DIR", str(tmp_path))
    store_pdf(db, statement, b"%PDF-1.7 test", tmp_path)
    fragment = client.post(url, headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in fragment  # done: polling stops
    assert f"{url}.pdf" in fragment
    download = client.get(f"{url}.pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data == b"%PDF-1.7 test"
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()


def test_opening_a_statement_writes_and_queues_nothing(client, login, statement, db, queued):
    login(_driver_user(statement))
    page = client.get(f"/conductor/estados-de-cuenta/{statement.id}")
    assert page.status_code == 200
    assert f'hx-post="/conductor/estados-de-cuenta/{statement.id}"' in page.text
    db.refresh(statement)
    assert statement.pdf_status == PdfStatus.NONE
    assert queued == []


def test_another_driver_gets_404(client, login, statement, make_driver):
    other = make_driver()
    login(other.user)
    assert client.get(f"/conductor/estados-de-cuenta/{statement.id}").status_code == 404
    assert client.get(f"/conductor/estados-de-cuenta/{statement.id}.pdf").status_code == 404
    assert client.post(f"/conductor/estados-de-cuenta/{statement.id}").status_code == 404
    assert (
        f"/estados-de-cuenta/{statement.id}" not in client.get("/conductor/estados-de-cuenta").text
    )


def test_pdf_not_ready_is_404(client, login, statement):
    login(_driver_user(statement))
    assert client.get(f"/conductor/estados-de-cuenta/{statement.id}.pdf").status_code == 404


def test_movements_list_for_the_driver(client, login, statement):
    login(_driver_user(statement))
    page = client.get("/conductor/movimientos").text
    assert "Renta semanal" in page
    assert "Multa: vuelta prohibida" in page


@pytest.mark.parametrize("role", [Role.STAFF, Role.MANAGER, Role.ADMIN])
def test_staff_see_a_drivers_movements(client, login, make_user, statement, role):
    login(make_user(role))
    page = client.get(f"/operacion/conductores/{statement.driver_id}/estado")
    assert page.status_code == 200
    assert "Multa: vuelta prohibida" in page.text
    assert ("Revertir movimiento" in page.text) == (role != Role.STAFF)


def test_a_driver_cannot_open_the_staff_ledger(client, login, statement):
    login(_driver_user(statement))
    url = f"/operacion/conductores/{statement.driver_id}/estado"
    assert client.get(url).status_code == 403


def test_unknown_driver_is_404(client, login, make_user):
    login(make_user(Role.STAFF))
    assert client.get("/operacion/conductores/999999/estado").status_code == 404


def _fine(db):
    return db.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.FINE))


def test_a_manager_reverses_a_movement_with_a_reason(client, login, make_user, statement, db):
    manager = make_user(Role.MANAGER)
    login(manager)
    fine = _fine(db)
    url = f"/operacion/conductores/{statement.driver_id}/estado"
    response = client.post(
        url, data={"entry_id": fine.id, "reason": "La multa no era de este auto"}
    )
    assert response.status_code == 303
    reversal = db.scalar(select(LedgerEntry).where(LedgerEntry.reverses_id == fine.id))
    assert reversal.amount_cents == -123_400
    assert reversal.created_by_id == manager.id
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "ledger.reversed"))
    assert audit.actor_id == manager.id
    assert audit.details["reason"] == "La multa no era de este auto"
    # the closed statement is untouched; the reversal lands in this week
    db.refresh(statement)
    assert statement.closing_balance_cents == 350_000 + 123_400
    page = client.get(url).text
    assert "Revertido" in page


def test_a_reversal_without_a_reason_is_422(client, login, make_user, statement, db):
    login(make_user(Role.MANAGER))
    url = f"/operacion/conductores/{statement.driver_id}/estado"
    response = client.post(url, data={"entry_id": _fine(db).id, "reason": "no"})
    assert response.status_code == 422
    # the manager sees why, under the reason they typed, and nothing was reversed
    assert "El campo debe tener entre 5 y 200 caracteres." in response.text
    assert 'value="no"' in response.text
    assert "Revertido" not in client.get(url).text
    assert db.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.REVERSAL)) is None


def test_staff_cannot_reverse(client, login, make_user, statement, db):
    login(make_user(Role.STAFF))
    url = f"/operacion/conductores/{statement.driver_id}/estado"
    response = client.post(url, data={"entry_id": _fine(db).id, "reason": "Porque sí, error"})
    assert response.status_code == 403


def test_an_entry_of_another_driver_cannot_be_reversed_here(
    client, login, make_user, make_driver, statement, db
):
    login(make_user(Role.MANAGER))
    other = make_driver()
    url = f"/operacion/conductores/{other.id}/estado"
    response = client.post(url, data={"entry_id": _fine(db).id, "reason": "Error de captura"})
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.STAFF, Role.MANAGER])
def test_staff_see_a_drivers_whole_account_on_one_page(
    client, login, make_user, statement, db, role
):
    account = ensure_spei_account(db, statement.driver, DemoClient(), "cobranza@lafa.mx")
    login(make_user(role))
    page = client.get(f"/operacion/conductores/{statement.driver_id}/estado")
    assert page.status_code == 200
    text = page.text
    assert "$4,734.00" in text  # the balance
    assert "Días de atraso" in text
    assert " ".join([account.clabe[i : i + 3] for i in range(0, 18, 3)]) in text
    assert "No tiene referencia OXXO vigente" in text
    assert 'id="efectivo"' in text  # the cash form
    assert "Multa: vuelta prohibida" in text  # the movements, with the running balance
    assert "Estados de cuenta" in text
    assert f"{statement.week_start:%d/%m}" in text
    assert ("Revertir movimiento" in text) == (role != Role.STAFF)


def test_the_account_pages_movements_for_htmx(client, login, make_user, statement):
    login(make_user(Role.STAFF))
    url = f"/operacion/conductores/{statement.driver_id}/estado?page=1"
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Multa: vuelta prohibida" in fragment.text
    assert "Registrar pago en efectivo" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_old_movements_page_redirects_to_the_account(client, login, make_user, statement):
    login(make_user(Role.MANAGER))
    old = f"/operacion/conductores/{statement.driver_id}/movimientos"
    response = client.get(old)
    assert response.status_code == 308
    assert response.headers["Location"] == f"/operacion/conductores/{statement.driver_id}/estado"
    assert client.post(old, data={}).status_code == 308  # a reversal stays a POST


def test_an_open_oxxo_reference_is_shown_to_staff(client, login, make_user, statement, db):
    intent = start_payment(
        db,
        driver=statement.driver,
        method=PaymentMethod.OXXO,
        amount_cents=150_000,
        request_key="staff-page-oxxo",
        client=DemoClient(),
        contact_email="cobranza@lafa.mx",
    )
    login(make_user(Role.STAFF))
    page = client.get(f"/operacion/conductores/{statement.driver_id}/estado").text
    assert f"Referencia OXXO {intent.reference} por $1,500.00." in page
