"""Staff and money: cash received at the depot, the collections list and its CSV, a
driver's running balance (owing_driver: tests/web/conftest.py)."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, EntryKind, PaymentIntent, PaymentStatus, Role
from portal.services.collections import list_collections
from portal.services.ledger import days_past_due, driver_balance, post_entry
from portal.timeutil import local_today


def test_staff_record_cash_audited_and_the_balance_drops(
    client, login, db, owing_driver, make_user
):
    staff = make_user(Role.STAFF)
    login(staff)
    url = f"/operacion/conductores/{owing_driver.id}/efectivo"
    # The form is on the driver's account page, filled with what the driver owes.
    assert (
        client.get(url)
        .headers["Location"]
        .endswith(f"/operacion/conductores/{owing_driver.id}/estado#efectivo")
    )
    account = client.get(f"/operacion/conductores/{owing_driver.id}/estado").text
    assert 'value="3500.00"' in account
    assert f'action="{url}"' in account
    response = client.post(url, data={"amount": "2000", "receipt_number": "r-00123"})
    assert response.status_code == 303
    assert driver_balance(db, owing_driver.id) == 150_000
    intent = db.scalar(select(PaymentIntent).where(PaymentIntent.receipt_number == "R-00123"))
    assert intent.status == PaymentStatus.PAID
    assert intent.recorded_by_id == staff.id
    assert intent.ledger_entry.created_by_id == staff.id
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "payment.cash_recorded"))
    assert audit.actor_id == staff.id
    assert audit.details["receipt_number"] == "R-00123"
    statement = client.get(response.headers["Location"])
    assert "Pago en efectivo en depósito, recibo R-00123" in statement.text
    assert "Ref. R-00123" not in statement.text  # the description already names it
    # The same receipt twice is refused.
    again = client.post(url, data={"amount": "2000", "receipt_number": "R-00123"})
    assert again.status_code == 422
    assert "El recibo R-00123 ya está registrado." in again.text
    assert "Movimientos" in again.text  # the account page again, with the form's error
    assert driver_balance(db, owing_driver.id) == 150_000


@pytest.mark.parametrize(
    ("amount", "receipt", "message"),
    [
        ("0", "A1", "El monto debe ser mayor que cero."),
        ("60000", "A1", "El monto no puede ser mayor que $50,000.00."),
        ("100", "", "Escribe el número de recibo"),
    ],
)
def test_bad_cash_input_is_refused(
    client, login, db, owing_driver, make_user, amount, receipt, message
):
    login(make_user(Role.STAFF))
    response = client.post(
        f"/operacion/conductores/{owing_driver.id}/efectivo",
        data={"amount": amount, "receipt_number": receipt},
    )
    assert response.status_code == 422
    assert message in response.text
    assert (
        db.scalars(select(AuditEvent).where(AuditEvent.action == "payment.cash_recorded")).all()
        == []
    )


def test_drivers_cannot_reach_staff_records(client, login, owing_driver):
    login(owing_driver.user)
    assert client.get(f"/operacion/conductores/{owing_driver.id}/estado").status_code == 403
    assert (
        client.post(
            f"/operacion/conductores/{owing_driver.id}/efectivo",
            data={"amount": "1", "receipt_number": "X"},
        ).status_code
        == 403
    )


def test_unknown_driver_record_is_404(client, login, make_user):
    login(make_user(Role.STAFF))
    assert client.get("/operacion/conductores/999999/estado").status_code == 404


@pytest.fixture
def collections_data(db, make_contract, make_depot, make_vehicle, make_driver):
    """Three drivers at two depots: 20 days late, 5 days late, and paid up."""
    north, south = make_depot(name="Norte"), make_depot(name="Sur")
    now = datetime.now(UTC)
    drivers = {}
    for label, name, depot, days_ago, paid in [
        ("late", "Alma", north, 22, 0),
        ("recent", "Berta", south, 7, 100_000),
        ("paid", "Carmen", north, 8, 350_000),
    ]:
        contract = make_contract(
            driver=make_driver(first_name=name), vehicle=make_vehicle(depot=depot), grace_days=2
        )
        post_entry(
            db,
            driver_id=contract.driver_id,
            contract_id=contract.id,
            kind=EntryKind.RENT,
            amount_cents=350_000,
            idempotency_key=f"rent:{label}",
            description="Renta semanal",
            posted_at=now - timedelta(days=days_ago),
        )
        if paid:
            post_entry(
                db,
                driver_id=contract.driver_id,
                kind=EntryKind.PAYMENT,
                amount_cents=-paid,
                idempotency_key=f"pay:{label}",
                description="Pago",
            )
        drivers[label] = contract.driver
    return drivers, north, south


def test_collections_list_days_late_and_amount_like_the_ledger_says(
    client, login, db, make_user, collections_data
):
    drivers, _north, _south = collections_data
    login(make_user(Role.STAFF))
    page = client.get("/operacion/cobranza")
    assert page.status_code == 200
    late_at = page.text.index(drivers["late"].first_name + " " + drivers["late"].last_name)
    assert page.text.index("$3,500.00") < page.text.index("$2,500.00")  # most days late first
    assert late_at > 0
    rows = list_collections(db, local_today()).items
    by_id = {r.driver_id: r for r in rows}
    assert drivers["paid"].id not in by_id
    for key in ("late", "recent"):
        row = by_id[drivers[key].id]
        assert row.days_late == days_past_due(db, drivers[key].id, local_today(), grace_days=2)
        assert row.balance_cents == driver_balance(db, drivers[key].id)
    # 22 days after the charge: due the Monday after it plus two days of grace.
    assert 13 <= by_id[drivers["late"].id].days_late <= 20


def test_collections_filters_by_depot_and_days_and_sorts(
    client, login, db, make_user, collections_data
):
    _drivers, _north, south = collections_data
    login(make_user(Role.MANAGER))
    south_page = client.get(f"/operacion/cobranza?depot={south.id}")
    assert "$2,500.00" in south_page.text
    assert "$3,500.00" not in south_page.text
    late_only = client.get("/operacion/cobranza?late=8")
    assert "$3,500.00" in late_only.text
    assert "$2,500.00" not in late_only.text
    by_amount = client.get("/operacion/cobranza?sort=amount")
    assert by_amount.text.index("$3,500.00") < by_amount.text.index("$2,500.00")


def test_collections_htmx_fragment_and_invalid_filters(client, login, make_user, collections_data):
    login(make_user(Role.STAFF))
    fragment = client.get("/operacion/cobranza?late=1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "<table" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    full = client.get("/operacion/cobranza?late=1")
    assert "<html" in full.text
    bad = client.get("/operacion/cobranza?late=3&page=0", headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert "<html" not in bad.text


def test_collections_csv_has_a_bom_and_the_same_filters(
    client, login, db, make_user, collections_data
):
    drivers, north, _south = collections_data
    login(make_user(Role.STAFF))
    response = client.get(f"/operacion/cobranza.csv?depot={north.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.data
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "Conductor"
    assert rows[0][5] == "Días de atraso"
    assert len(rows) == 2  # the header and the one late driver at the north depot
    assert rows[1][4] == "3500.00"
    late = drivers["late"].id
    assert rows[1][5] == str(days_past_due(db, late, local_today(), grace_days=2))
    assert "Hernández" in rows[1][0]


def test_statement_shows_a_running_balance(client, login, db, make_user, collections_data):
    drivers, *_ = collections_data
    login(make_user(Role.STAFF))
    page = client.get(f"/operacion/conductores/{drivers['recent'].id}/estado")
    assert page.status_code == 200
    # Newest first: the payment leaves $2,500.00, the rent before it $3,500.00.
    assert page.text.index("$2,500.00") < page.text.index("Renta semanal")
    fragment = client.get(
        f"/operacion/conductores/{drivers['recent'].id}/estado", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text
    assert "Renta semanal" in fragment.text
