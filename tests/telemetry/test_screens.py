"""The telemetry screens: the driver's car card (own car only, htmx fragment), the staff
board (filters, map, 422), the vehicle detail (charts toggle, 404)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from portal import clock as portal_clock
from portal.models import Role
from portal.services import telemetry_rollups as rollups
from portal.timeutil import local_today
from telemetry import store as ingest
from telemetry.codec import make_record

HX = {"HX-Request": "true"}


def report(db, vehicle, soc, *, minutes_ago=2, charging=False, speed=0, odometer=25_000_000):
    at = portal_clock.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    record = make_record(
        at,
        latitude=19.4326,
        longitude=-99.1332,
        satellites=9,
        speed=speed,
        io={239: int(speed > 0), 152: soc, 304: soc * 3_800, 915: int(charging), 87: odometer},
    )
    ingest.store_records(db, [(vehicle.tracker_imei, record)], at)
    db.expire_all()


@pytest.fixture
def driver_with_car(make_contract, make_user, make_driver):
    user = make_user(Role.DRIVER)
    contract = make_contract(driver=make_driver(user=user))
    return user, contract.vehicle


@pytest.mark.parametrize(
    "local_time",
    [(12, 0), (0, 10)],  # mid-day, and ten minutes into the local day
    ids=["noon", "just-after-midnight"],
)
def test_driver_sees_their_car_charge_range_and_km(
    db, client, login, driver_with_car, clock, local_time
):
    user, car = driver_with_car
    clock.pin(datetime.combine(local_today(), time(*local_time), tzinfo=rollups.LOCAL))
    report(db, car, 64, minutes_ago=8, odometer=25_000_000)  # both on the local day
    report(db, car, 61, minutes_ago=2, odometer=25_012_300)
    login(user)
    page = client.get("/conductor/")
    assert page.status_code == 200
    assert 'hx-trigger="every 15s"' in page.text
    assert "61" in page.text
    assert "Autonomía estimada" in page.text
    assert "232 km" in page.text  # 61 % x 3,800 m
    assert "hace 2 minutos" in page.text
    assert "12.3 km" in page.text  # today, from the odometer


def test_vehicle_status_fragment_and_full_page(db, client, login, driver_with_car):
    user, car = driver_with_car
    report(db, car, 47, charging=True)
    login(user)
    fragment = client.get("/conductor/vehicle-status", headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<section")
    assert "<html" not in fragment.text
    assert "Cargando" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    full = client.get("/conductor/vehicle-status")
    assert "<html" in full.text
    assert "47" in full.text


def test_a_driver_never_sees_another_car(db, client, login, driver_with_car, make_vehicle):
    user, _car = driver_with_car
    other = make_vehicle()
    report(db, other, 13)
    login(user)
    text = client.get("/conductor/vehicle-status", headers=HX).text
    assert "aún no ha reportado" in text  # their own car has not reported
    assert ">13<" not in text
    # Staff URLs with a vehicle id are not open to drivers at all.
    assert client.get(f"/operacion/vehiculos/{other.id}").status_code == 403


def test_driver_without_a_car(client, login, make_user, make_driver):
    user = make_user(Role.DRIVER)
    make_driver(user=user)
    login(user)
    assert "No tienes un auto asignado" in client.get("/conductor/vehicle-status").text


def test_board_lists_flags_filters_and_map(db, client, login, make_user, make_vehicle, make_depot):
    depot = make_depot()
    low = make_vehicle(depot=depot)
    fine = make_vehicle(depot=depot)
    silent = make_vehicle(depot=depot)
    report(db, low, 9)
    report(db, fine, 80, speed=35)
    report(db, silent, 70, minutes_ago=120)
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
    try:
        page = client.get("/operacion/tablero")
    finally:
        app.config["MAP_TILE_URL"] = ""
    assert '<image href="https://tiles.example.mx/11/' in page.text
    assert "Mapa esquemático" not in page.text


def test_tile_origin_is_allowed_by_the_csp():
    from portal.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": "",
            "MAP_TILE_URL": "https://{s}.tiles.example.mx/{z}/{x}/{y}.png",
        }
    )
    assert "img-src 'self' data: https://*.tiles.example.mx;" in app.config["CSP"]


def test_vehicle_detail_charts_trips_and_raw_frame(db, client, login, make_user, make_vehicle):
    car = make_vehicle()
    for minutes, soc in ((200, 80), (120, 70), (60, 65), (5, 60)):
        report(db, car, soc, minutes_ago=minutes, speed=30)
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
