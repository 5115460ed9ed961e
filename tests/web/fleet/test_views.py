"""The live fleet (staff, tablet): the fleet list (filters, pages, 422), the board
(flags, filters, map), a vehicle's page (charts toggle, raw frame, 404, its battery's
health and what it says before there is an estimate)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.demo.seed import seed_demo
from portal.models import Contract, ContractStatus, Role
from portal.services import telemetry_rollups as rollups
from tests.web import HX


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


def test_board_lists_flags_filters_and_map(
    db, client, login, make_user, make_vehicle, make_depot, report
):
    depot = make_depot()
    low = make_vehicle(depot=depot)
    fine = make_vehicle(depot=depot)
    silent = make_vehicle(depot=depot)
    report(low, 9)
    report(fine, 80, speed=35)
    report(silent, 70, minutes_ago=120)
    rollups.check_alerts(db, datetime.now(UTC), silent_after=timedelta(minutes=30), low_soc_pct=20)
    login(make_user(Role.STAFF))
    page = client.get(f"/operacion/tablero?depot={depot.id}")
    assert page.status_code == 200
    for car in (low, fine, silent):
        assert car.plate in page.text
    assert "Batería baja" in page.text
    assert "Sin señal" in page.text
    assert "<svg" in page.text
    assert "Mapa esquemático" in page.text
    assert page.text.count('class="map-dot') == 3

    only_low = client.get(f"/operacion/tablero?depot={depot.id}&flag=low_soc", headers=HX)
    assert only_low.status_code == 200
    assert "<html" not in only_low.text
    assert low.plate in only_low.text
    assert fine.plate not in only_low.text
    assert silent.plate not in only_low.text

    by_soc = client.get(f"/operacion/tablero?depot={depot.id}&sort=soc", headers=HX).text
    assert by_soc.index(low.plate) < by_soc.index(silent.plate) < by_soc.index(fine.plate)

    assert client.get("/operacion/tablero?flag=nonsense", headers=HX).status_code == 422


def test_board_uses_map_tiles_when_configured(app, db, client, login, make_user):
    login(make_user(Role.STAFF))
    app.config["MAP_TILE_URL"] = "https://tiles.example.mx/{z}/{x}/{y}.png"
    app.config["MAP_TILE_ATTRIBUTION"] = "© OpenStreetMap contributors"
    try:
        page = client.get("/operacion/tablero")
    finally:
        app.config["MAP_TILE_URL"] = app.config["MAP_TILE_ATTRIBUTION"] = ""
    assert '<image href="https://tiles.example.mx/11/' in page.text
    assert "Mapa esquemático" not in page.text
    assert "© OpenStreetMap contributors" in page.text  # the tiles' credit under the map


def test_vehicle_detail_charts_trips_and_raw_frame(
    db, client, login, make_user, make_vehicle, report
):
    car = make_vehicle()
    for minutes, soc in ((200, 80), (120, 70), (60, 65), (5, 60)):
        report(car, soc, minutes_ago=minutes, speed=30)
    login(make_user(Role.STAFF))
    page = client.get(f"/operacion/vehiculos/{car.id}")
    assert page.status_code == 200
    assert car.plate in page.text
    assert page.text.count("<polyline") >= 2
    assert "&#34;152&#34;: 60" in page.text or '"152": 60' in page.text  # the raw last frame
    week = client.get(f"/operacion/vehiculos/{car.id}?period=7d", headers=HX)
    assert week.status_code == 200
    assert "<html" not in week.text
    assert "<polyline" in week.text
    assert client.get(f"/operacion/vehiculos/{car.id}?period=1y", headers=HX).status_code == 422
    assert client.get("/operacion/vehiculos/999999").status_code == 404


@pytest.mark.parametrize(
    "query", ["page=0", "page=abc", "status=flying", "depot=999999", "plate=" + "X" * 11]
)
def test_fleet_bad_filters_are_422_in_spanish(client, login, make_user, fleet, query):
    login(make_user(Role.STAFF))
    response = client.get(f"/operacion/flota?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Revisa los filtros." in response.text


def _battery_section(html):
    return html[html.index('id="battery"') : html.index("</section>", html.index('id="battery"'))]


def test_the_vehicle_page_shows_the_battery_health_with_its_band_trend_and_sessions(
    client, login, make_user, make_vehicle, store_estimates
):
    car, peer = make_vehicle(), make_vehicle()
    store_estimates({car: {}, peer: {"fade_percent_per_year": 2.5}})
    login(make_user(Role.STAFF))

    section = _battery_section(client.get(f"/operacion/vehiculos/{car.id}").text)

    assert "Salud de la batería" in section
    assert "96.4" in section
    assert "37.4 de 38.8 kWh" in section
    assert "Banda de 95%: 95.1% a 97.3%" in section
    # The gauges say the whole reading to a screen reader; the fleet's average is pinned.
    assert "Estado de salud 96.4% (banda de 95%: 95.1% a 97.3%)" in section
    assert "Degradación de 2.1% al año (banda de 95%: 1.6% a 2.6%)" in section
    assert "Flota: 2.3%" in section  # the median of 2.1 and 2.5
    assert "131 de 140" in section  # sessions used of the car's sessions
    assert "Cargas en CD</dt><dd>12%</dd>" in section
    assert "AC 88% · DC 94%" in section  # the charging efficiencies it learned
    assert "0.45% por cada 10,000 km" in section
    assert "Estado de salud por mes" in section  # the monthly trend
    assert "jun 26" in section
    assert "96.6% (17 cargas)" in section
    assert "battery-alert" not in section
    assert "Estimado el" in section


def test_the_vehicle_page_raises_the_battery_alerts(
    client, login, make_user, make_vehicle, store_estimates
):
    car = make_vehicle()
    store_estimates(
        {
            car: {
                "soh_percent": 83.2,
                "soh_low": 81.9,
                "soh_high": 84.4,
                "fade_percent_per_year": 9.8,
                "alerts": ("low_soh", "fast_fade"),
            }
        }
    )
    login(make_user(Role.STAFF))
    section = _battery_section(client.get(f"/operacion/vehiculos/{car.id}").text)
    assert "Estado de salud menor a 85%." in section
    assert "La batería conserva 83.2% de su capacidad nominal" in section
    assert "Se degrada más rápido que sus pares." in section
    assert "9.8% al año, frente a la mediana de la flota de 9.8%." in section


def test_a_car_without_enough_sessions_says_what_an_estimate_needs(
    client, login, make_user, make_vehicle, store_estimates
):
    few, none = make_vehicle(), make_vehicle()
    store_estimates(
        {few: {"sessions_total": 5, "sessions_used": 0, "soh_percent": None, "as_of": None}}
    )
    login(make_user(Role.STAFF))
    for car in (few, none):
        section = _battery_section(client.get(f"/operacion/vehiculos/{car.id}").text)
        assert "Aún no hay suficientes cargas para estimar la salud de esta batería." in section
        assert "al menos 8 cargas en el depósito que sumen 20 puntos de carga o más" in section
        assert "<svg" not in section
    few_page = _battery_section(client.get(f"/operacion/vehiculos/{few.id}").text)
    assert "Hasta ahora hay 5 cargas de este auto unidas a su rastreador" in few_page


def test_a_car_too_new_for_a_fade_rate_shows_its_health_and_when_the_rate_comes(
    client, login, make_user, make_vehicle, store_estimates
):
    car = make_vehicle()
    store_estimates(
        {
            car: {
                "fade_percent_per_year": None,
                "fade_low": None,
                "fade_high": None,
                "fade_percent_per_10000_km": None,
                "trend": (),
            }
        }
    )
    login(make_user(Role.STAFF))
    section = _battery_section(client.get(f"/operacion/vehiculos/{car.id}").text)
    assert "96.4" in section
    assert "La tasa de degradación necesita 60 días de cargas." in section
    assert "Estado de salud por mes" not in section  # one month is not a trend


def test_a_vehicle_on_a_fresh_demo_has_a_week_of_charts_and_trips(
    db, client, login, make_user, clock
):
    clock.pin(datetime.now(UTC))
    seed_demo(db, vehicles=12)
    vehicle_id = db.scalar(
        select(Contract.vehicle_id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(Contract.vehicle_id)
    )
    login(make_user(Role.STAFF))
    week = client.get(f"/operacion/vehiculos/{vehicle_id}?period=7d").text
    assert "Sin viajes en los últimos 7 días" not in week
    trips = week.split('id="trips-title"')[1].split("</section>")[0]
    assert trips.count("<tr>") > 20
    charging = week.split('id="charging-title"')[1].split("</section>")[0]
    assert charging.count("<tr>") >= 5
    # The charge line has a point every half hour of the week.
    lines = re.findall(r'<polyline points="([^"]+)" class="line-soc"', week)
    assert sum(len(points.split()) for points in lines) > 250
