"""The first page of each role, the htmx fragments, the error pages and the headers."""

from datetime import date, timedelta

import pytest

from portal.models import Role, VehicleStatus


def test_driver_home_shows_their_car_and_contract(client, login, make_contract, make_driver):
    contract = make_contract(starts_on=date.today() - timedelta(weeks=22, days=1))
    make_contract(vehicle=None, driver=make_driver(first_name="Otro"))  # someone else's
    login(contract.driver.user)
    page = client.get("/conductor/").text
    assert "Dolphin Mini" in page
    assert contract.vehicle.plate in page
    assert "$3,500.00" in page
    assert "Semana 23 de 156" in page
    assert "Otro" not in page


def test_driver_without_contract_is_told_so(client, login, make_driver):
    login(make_driver().user)
    assert "No tienes un contrato activo" in client.get("/conductor/").text


def test_another_drivers_car_never_shows(client, login, make_contract):
    mine, theirs = make_contract(), make_contract()
    login(mine.driver.user)
    page = client.get("/conductor/").text
    assert mine.vehicle.plate in page
    assert theirs.vehicle.plate not in page


@pytest.fixture
def fleet(make_depot, make_vehicle, make_contract):
    north, south = make_depot(name="Depósito Norte"), make_depot(name="Depósito Sur")
    cars = [make_vehicle(depot=north, plate=f"NOR-{i:03d}-A") for i in range(30)]
    cars[0].status = VehicleStatus.LEASED
    cars += [make_vehicle(depot=south, plate="SUR-777-B", status=VehicleStatus.IN_REPAIR)]
    make_contract(vehicle=cars[0])
    return north, south, cars


def test_fleet_list_full_page_then_fragment(client, login, make_user, fleet):
    login(make_user(Role.STAFF))
    full = client.get("/operacion/flota")
    assert full.status_code == 200
    assert "<html" in full.text
    assert 'id="results"' in full.text
    assert "HX-Request" in full.headers["Vary"]

    fragment = client.get("/operacion/flota?plate=sur", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "SUR-777-B" in fragment.text
    assert "NOR-001-A" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(client, login, make_user, fleet):
    login(make_user(Role.STAFF))
    for headers in (
        {"HX-Request": "true", "HX-Boosted": "true"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    ):
        assert "<html" in client.get("/operacion/flota", headers=headers).text


def test_fleet_filters_by_depot_and_status(client, login, make_user, fleet):
    _north, south, _ = fleet
    login(make_user(Role.STAFF))
    by_depot = client.get(f"/operacion/flota?depot={south.id}").text
    assert "SUR-777-B" in by_depot
    assert "NOR-000-A" not in by_depot
    by_status = client.get("/operacion/flota?status=leased").text
    assert "NOR-000-A" in by_status
    assert "NOR-002-A" not in by_status
    assert "Hernández" in by_status  # the driver's name


def test_fleet_is_paginated(client, login, make_user, fleet):
    north, _, _ = fleet
    login(make_user(Role.STAFF))
    first = client.get(f"/operacion/flota?depot={north.id}").text
    assert "Página 1 de 2" in first
    assert "30 vehículos" in first
    second = client.get(f"/operacion/flota?depot={north.id}&page=2").text
    assert "NOR-029-A" in second
    assert "NOR-000-A" not in second


@pytest.mark.parametrize(
    "query", ["page=0", "page=abc", "status=flying", "depot=999999", "plate=" + "X" * 11]
)
def test_fleet_bad_filters_are_422_in_spanish(client, login, make_user, fleet, query):
    login(make_user(Role.STAFF))
    response = client.get(f"/operacion/flota?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Revisa los filtros." in response.text


def test_manager_and_admin_homes(client, login, make_user, fleet):
    login(make_user(Role.ADMIN))
    manager = client.get("/gerencia/").text
    assert "Flota por estado" in manager
    assert "Depósito Norte" in manager
    admin = client.get("/admin/").text
    assert "Actividad reciente" in admin
    assert "Depósito Sur" in admin


def test_unknown_url_is_the_spanish_404_page(client):
    response = client.get("/no-existe")
    assert response.status_code == 404
    assert "No encontramos esta página." in response.text
    assert "Traceback" not in response.text


def test_server_error_is_the_spanish_500_page(app, db):
    from portal.app import create_app

    broken = create_app(dict(app.config))
    broken.config["PROPAGATE_EXCEPTIONS"] = False

    @broken.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    response = broken.test_client().get("/_boom")
    assert response.status_code == 500
    assert "Algo salió mal de nuestro lado." in response.text
    assert "RuntimeError" not in response.text


def test_security_headers(client):
    response = client.get("/entrar")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_forms_without_a_csrf_token_are_refused(app, client, make_user):
    user = make_user(Role.STAFF)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/entrar", data={"identifier": user.email, "password": "x"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "El formulario expiró" in response.text


def test_htmx_sends_the_csrf_token_from_body(client):
    assert 'hx-headers=\'{"X-CSRFToken": "' in client.get("/entrar").text
