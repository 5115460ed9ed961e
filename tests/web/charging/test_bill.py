"""The managers' energy page shows a depot's month as CFE bills it: a depot and month
selector, the receipt's lines with Spanish labels and money, the kWh by period."""

from datetime import UTC, date, datetime

from portal.models import Role
from tests.services.charging.test_bill import add_tariff, at, register

URL = "/gerencia/energia"


def _depot(db, make_depot, make_charger):
    """One tariff all December; 20 kWh in punta on the 3rd (80 kW), 17.5 kWh in base on
    the 4th: energy 36.00 + 15.75, capacity 80 x 420 = 33,600.00, distribution
    80 x 59 = 4,720.00, fixed 900.00; subtotal 39,271.75, IVA 6,283.48, total 45,555.23."""
    depot = make_depot(name="Depósito Recibo")
    add_tariff(db, depot, date(2026, 1, 1), ("0.90", "1.50", "1.80"), "420", "59", "900")
    charger = make_charger(depot=depot)
    register(
        db,
        charger,
        [
            (at(3, 19), 1_000_000),
            (at(3, 19, 15), 1_020_000),
            (at(4, 3), 1_020_000),
            (at(4, 3, 15), 1_037_500),
        ],
    )
    db.commit()
    return depot


def test_managers_see_the_months_cfe_bill_of_a_depot(
    client, login, db, clock, make_user, make_depot, make_charger
):
    clock.pin(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    depot = _depot(db, make_depot, make_charger)
    login(make_user(Role.MANAGER))
    page = client.get(URL, query_string={"depot": depot.id, "month": "2026-12"})
    assert page.status_code == 200
    html = page.text
    assert "Recibo CFE del mes" in html
    assert "Depósito Recibo, diciembre 2026" in html
    for text in ("Energía punta", "Energía base", "Capacidad", "Distribución", "Cargo fijo"):
        assert text in html
    for money in ("$36.00", "$15.75", "$33,600.00", "$4,720.00", "$900.00"):
        assert money in html
    assert "$1.8000" in html  # the punta price as CFE publishes it
    assert "$39,271.75" in html  # subtotal
    assert "$6,283.48" in html  # IVA
    assert "$45,555.23" in html  # total
    assert 'id="bill-kwh-title"' in html  # the kWh by period chart
    assert "20.0 kWh" in html


def test_the_selector_swaps_the_bill_only_and_refuses_a_bad_month(
    client, login, db, clock, make_user, make_depot, make_charger
):
    clock.pin(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    depot = _depot(db, make_depot, make_charger)
    login(make_user(Role.MANAGER))
    fragment = client.get(
        URL, query_string={"depot": depot.id, "month": "2026-12"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="bill"')
    assert "$45,555.23" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    # January 2027 is running: billed to date, nothing drawn yet, the monthly charges.
    running = client.get(URL, query_string={"depot": depot.id, "month": "2027-01"})
    assert "Mes en curso" in running.text
    bad = client.get(URL, query_string={"depot": depot.id, "month": "2025-01"})
    assert bad.status_code == 422
    assert "Revisa los filtros" in bad.text


def test_a_depot_without_a_tariff_says_so_and_staff_are_refused(
    client, login, clock, make_user, make_depot
):
    clock.pin(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    depot = make_depot(name="Depósito Sin Tarifa")
    login(make_user(Role.MANAGER))
    page = client.get(URL, query_string={"depot": depot.id, "month": "2026-12"})
    assert page.status_code == 200
    assert "no tiene tarifa CFE" in page.text
    client.post("/salir")
    login(make_user(Role.STAFF))
    assert client.get(URL, query_string={"depot": depot.id, "month": "2026-12"}).status_code == 403


def test_a_tariff_change_splits_the_receipt_by_tariff_with_its_days(
    client, login, db, clock, make_user, make_depot, make_charger
):
    clock.pin(datetime(2027, 1, 5, 12, 0, tzinfo=UTC))
    depot = _depot(db, make_depot, make_charger)
    add_tariff(db, depot, date(2026, 12, 16), ("1.00", "1.60", "2.00"), "440", "60", "1000")
    db.commit()
    login(make_user(Role.MANAGER))
    html = client.get(URL, query_string={"depot": depot.id, "month": "2026-12"}).text
    assert "Tarifa desde el 1 ene 2026: 15 de 31 días" in html
    assert "Tarifa desde el 16 dic 2026: 16 de 31 días" in html
    assert "$1,000.0000" in html  # B's fixed charge per month
    assert "$516.13" in html  # 1,000 x 16/31
