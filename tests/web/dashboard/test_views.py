"""The manager's KPI dashboard page, its htmx fragment, validation and CSV."""

from datetime import timedelta
from decimal import Decimal

import pytest
from babel.dates import format_date

from portal.models import EntryKind, Role, VehicleDailyKm, VehicleStatus
from portal.services.kpis.credit import refresh_contract_outcomes
from portal.services.kpis.daily import refresh_kpi_days
from portal.services.ledger import post_entry
from portal.timeutil import local_midnight, local_today

URL = "/gerencia/indicadores"


@pytest.fixture
def fleet(db, make_depot, make_vehicle):
    depot = make_depot(name="Depósito Indicadores")
    vehicle = make_vehicle(depot=depot, status=VehicleStatus.LEASED)
    db.add(
        VehicleDailyKm(
            vehicle_id=vehicle.id,
            day=local_today(),
            km=Decimal("123.4"),
            first_odometer_m=0,
            last_odometer_m=123_400,
        )
    )
    db.flush()
    return depot


def test_full_page_has_every_panel_with_svg_and_table(client, login, make_user, fleet):
    login(make_user(Role.MANAGER))
    response = client.get(URL)
    assert response.status_code == 200
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]
    html = response.text
    assert "<h1>Indicadores</h1>" in html
    for panel in ("fleet", "km", "collections", "energy", "charging", "incidents", "credit"):
        assert f'id="panel-{panel}"' in html
    assert html.count("<svg") >= 9
    assert 'role="img"' in html
    assert "<table" in html
    assert "123.4" in html  # km per car per day, also in the table
    assert "Depósito Indicadores" in html
    assert "style=" not in html


def test_the_date_fields_show_the_period_in_effect(client, login, make_user, fleet):
    login(make_user(Role.MANAGER))
    today = local_today()
    html = client.get(URL, query_string={"period": "month"}).text
    assert f'value="{today.replace(day=1).isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html


def test_htmx_fragment_and_depot_filter(client, login, make_user, fleet, make_depot):
    other = make_depot()
    login(make_user(Role.ADMIN))
    response = client.get(
        URL, query_string={"period": "month", "depot": other.id}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="panel-fleet"' in response.text
    assert "123.4" not in response.text


def test_custom_period(client, login, make_user, fleet):
    login(make_user(Role.MANAGER))
    today = local_today()
    response = client.get(
        URL,
        query_string={
            "period": "custom",
            "start": (today - timedelta(days=3)).isoformat(),
            "end": today.isoformat(),
        },
    )
    assert response.status_code == 200
    assert "123.4" in response.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"period": "custom", "start": "2026-03-10", "end": "2026-03-01"}, "no puede ser anterior"),
        ({"period": "custom", "start": "ayer", "end": "2026-03-01"}, "fecha válida"),
        ({"period": "custom", "end": "2026-03-01"}, "primer día"),
        ({"period": "custom", "start": "2024-01-01", "end": "2026-03-01"}, "366 días"),
        ({"period": "year"}, "Not a valid choice"),
    ],
)
def test_bad_filters_answer_422_in_spanish(client, login, make_user, args, message):
    login(make_user(Role.MANAGER))
    response = client.get(URL, query_string=args, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Revisa los filtros" in response.text
    if message != "Not a valid choice":
        assert message in response.text
    assert client.get(URL + ".csv", query_string=args).status_code == 422


@pytest.mark.parametrize("role", [Role.STAFF, Role.DRIVER])
def test_staff_and_drivers_are_refused(client, login, make_user, make_driver, role):
    user = make_driver().user if role == Role.DRIVER else make_user(role)
    login(user)
    assert client.get(URL).status_code == 403
    assert client.get(URL + ".csv").status_code == 403


def test_csv_has_every_panel_with_a_bom(client, login, make_user, fleet):
    login(make_user(Role.MANAGER))
    response = client.get(URL + ".csv", query_string={"period": "week", "depot": fleet.id})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")
    for title in ("Utilización de la flota", "Cobranza", "Energía", "Incidentes"):
        assert title in body
    assert "123.4" in body


def test_the_page_says_where_its_figures_come_from(
    db, client, login, make_user, make_contract, fleet
):
    make_contract()
    login(make_user(Role.MANAGER))
    html = client.get(URL).text
    assert "El resumen diario nunca se ha calculado" in html
    assert "Resultados calculados en vivo" in html  # the cohorts' outcomes

    today = local_today()
    refresh_kpi_days(db, today - timedelta(days=3), today, today)
    refresh_contract_outcomes(db, today)
    html = client.get(URL).text

    closed = format_date(today - timedelta(days=1), "d MMM yyyy", locale="es_MX")
    assert f"Datos al cierre del {closed} del resumen diario, actualizado hace" in html
    assert "El resumen diario nunca" not in html
    assert "123.4" in html  # today, live, on top of the rollup
    assert "Resultados al " in html


def test_early_delinquency_by_cohort_has_a_chart_a_table_and_csv_rows(
    db, client, login, make_user, make_contract, fleet
):
    contract = make_contract(starts_on=local_today() - timedelta(weeks=2))
    post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        posted_at=local_midnight(contract.starts_on),
        idempotency_key="first-rent",
        description="Renta",
    )
    make_contract(starts_on=local_today() - timedelta(weeks=60))  # before the ledger
    login(make_user(Role.MANAGER))
    html = client.get(URL).text
    assert 'id="chart-delinquency-title"' in html
    assert "Morosidad temprana por cohorte" in html
    assert "Demasiado reciente para evaluar" in html
    body = client.get(URL + ".csv").data.decode("utf-8")
    assert "Morosidad temprana por cohorte (%)" in body
    assert "Demasiado reciente para evaluar (0 de 1 contratos con 26 semanas)" in body
    assert "Iniciados antes del historial del libro mayor" in body
