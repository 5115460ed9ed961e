"""The driver's charging pages: slots, booking with confirmation, cancelling, live card."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal.db import utcnow
from portal.models import (
    Booking,
    BookingStatus,
    ChargerCommand,
    CommandAction,
    CommandStatus,
    ConnectorType,
    IdTag,
    Role,
)
from portal.services.charging import bookings as svc
from portal.services.charging.bookings import bookable_days

HX = {"HX-Request": "true"}


@pytest.fixture
def depot(make_depot, make_charger):
    depot = make_depot(name="Depósito Prueba")
    make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.CCS2, "60")])
    return depot


@pytest.fixture
def driver(make_contract, make_vehicle, depot):
    return make_contract(vehicle=make_vehicle(depot=depot)).driver


def tomorrow_at(depot, hour):
    _, tomorrow = bookable_days(depot, utcnow())
    zone = svc.depot_zone(depot)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, tzinfo=zone)


def test_the_page_shows_slots_for_the_cars_connector(client, login, driver, depot):
    login(driver.user)
    response = client.get("/conductor/cargar")
    assert response.status_code == 200
    assert "Carga tu auto" in response.text
    assert "Depósito Prueba" in response.text
    assert "CCS2" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_slots_fragment_for_htmx_and_422_for_a_bad_day(client, login, driver, depot):
    login(driver.user)
    _, tomorrow = bookable_days(depot, utcnow())
    response = client.get(f"/conductor/cargar?depot={depot.id}&day={tomorrow}", headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "06:00" in response.text
    assert 'class="slot"' in response.text
    bad = client.get(f"/conductor/cargar?depot={depot.id}&day=2020-01-01", headers=HX)
    assert bad.status_code == 422
    assert "<html" not in bad.text
    assert 'class="error"' in bad.text


def test_booking_needs_a_confirmation_then_shows_up(client, login, driver, depot, db):
    login(driver.user)
    start = tomorrow_at(depot, 8)
    confirm = client.get(
        "/conductor/cargar/reservar",
        query_string={"depot": depot.id, "start": start.isoformat()},
        headers=HX,
    )
    assert confirm.status_code == 200
    assert "Confirma tu reserva" in confirm.text
    assert "<html" not in confirm.text
    assert db.scalar(select(Booking).where(Booking.driver_id == driver.id)) is None

    response = client.post(
        "/conductor/cargar/reservar", data={"depot": depot.id, "start": start.isoformat()}
    )
    assert response.status_code == 303
    booking = db.scalar(select(Booking).where(Booking.driver_id == driver.id))
    assert booking.window_start == start
    page = client.get("/conductor/cargar")
    assert "Tus reservas" in page.text
    assert "Reservado" in page.text


def test_booking_a_slot_not_on_offer_is_a_422(client, login, driver, depot):
    login(driver.user)
    off_grid = tomorrow_at(depot, 8) + timedelta(minutes=10)
    response = client.post(
        "/conductor/cargar/reservar", data={"depot": depot.id, "start": off_grid.isoformat()}
    )
    assert response.status_code == 422
    assert "Ese horario no está disponible" in response.text
    garbage = client.get("/conductor/cargar/reservar?depot=x&start=nope", headers=HX)
    assert garbage.status_code == 422


def test_the_daily_limit_is_explained_in_spanish(client, login, driver, depot):
    login(driver.user)
    for hour in (8, 10):
        response = client.post(
            "/conductor/cargar/reservar",
            data={"depot": depot.id, "start": tomorrow_at(depot, hour).isoformat()},
        )
    assert response.status_code == 422
    assert "como máximo 1" in response.text


def test_cancel_with_confirmation(client, login, driver, depot, db):
    booking = svc.book_slot(db, driver.id, depot.id, tomorrow_at(depot, 9), now=utcnow())
    login(driver.user)
    confirm = client.get(f"/conductor/cargar/reservas/{booking.id}/cancelar", headers=HX)
    assert confirm.status_code == 200
    assert "¿Cancelar tu reserva?" in confirm.text
    assert "<html" not in confirm.text
    response = client.post(f"/conductor/cargar/reservas/{booking.id}/cancelar")
    assert response.status_code == 303
    db.refresh(booking)
    assert booking.status == BookingStatus.CANCELLED
    again = client.post(f"/conductor/cargar/reservas/{booking.id}/cancelar")
    assert again.status_code == 422


def test_a_driver_cannot_see_or_cancel_another_drivers_booking(
    client, login, driver, depot, db, make_contract, make_vehicle
):
    booking = svc.book_slot(db, driver.id, depot.id, tomorrow_at(depot, 9), now=utcnow())
    other = make_contract(vehicle=make_vehicle(depot=depot)).driver
    login(other.user)
    assert client.get(f"/conductor/cargar/reservas/{booking.id}/cancelar").status_code == 404
    assert client.post(f"/conductor/cargar/reservas/{booking.id}/cancelar").status_code == 404
    db.refresh(booking)
    assert booking.status == BookingStatus.BOOKED
    assert "Tus reservas" not in client.get("/conductor/cargar").text


def test_live_card_shows_kwh_power_and_soc(client, login, driver, depot, db, make_charging_session):
    charger = depot_charger(db, depot)
    make_charging_session(
        charger,
        driver_id=driver.id,
        meter_start_wh=1_000_000,
        last_meter_wh=1_012_340,
        last_power_kw=48.2,
        last_soc=63.0,
        last_meter_at=utcnow(),
    )
    login(driver.user)
    fragment = client.get("/conductor/cargar/en-curso", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "12.34" in fragment.text
    assert "48.2" in fragment.text
    assert "63" in fragment.text
    assert 'hx-trigger="every 5s"' in fragment.text
    page = client.get("/conductor/cargar/en-curso")
    assert "<html" in page.text


def test_someone_elses_session_is_not_on_my_card(
    client, login, driver, depot, db, make_charging_session, make_driver
):
    make_charging_session(depot_charger(db, depot), driver_id=make_driver().id)
    login(driver.user)
    assert "No estás cargando" in client.get("/conductor/cargar/en-curso").text


def test_a_driver_without_a_tag_is_told_to_ask_for_one(client, login, driver, db):
    login(driver.user)
    assert "Pide una en tu depósito" in client.get("/conductor/cargar/en-curso").text
    db.add(IdTag(tag="ABC123", driver_id=driver.id))
    db.flush()
    assert "Pide una en tu depósito" not in client.get("/conductor/cargar/en-curso").text


def test_a_driver_without_a_contract_sees_why(client, login, make_driver):
    driver = make_driver()
    login(driver.user)
    response = client.get("/conductor/cargar")
    assert response.status_code == 200
    assert "No tienes un contrato activo" in response.text


def test_staff_cannot_open_driver_charging(client, login, make_user):
    login(make_user(Role.STAFF))
    assert client.get("/conductor/cargar").status_code == 403


def depot_charger(db, depot):
    from portal.models import Charger

    return db.scalar(select(Charger).where(Charger.depot_id == depot.id))


@pytest.fixture
def tagged(db, driver):
    db.add(IdTag(tag="LAFA777", driver_id=driver.id))
    db.flush()
    return driver


def test_start_from_the_phone_asks_the_charger_with_the_drivers_tag(
    client, login, tagged, depot, db, enqueued
):
    login(tagged.user)
    response = client.post("/conductor/cargar/iniciar", data={"depot": depot.id}, headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Esperando la respuesta del cargador" in response.text
    (command,) = enqueued
    assert command.action == CommandAction.REMOTE_START
    assert command.params == {"id_tag": "LAFA777", "evse_id": 1}
    assert command.requested_by_id == tagged.user.id
    # The card polls the command until the charger answers.
    assert f"command={command.id}" in response.text
    db.get(ChargerCommand, command.id).status = CommandStatus.ACCEPTED
    db.flush()
    answered = client.get(f"/conductor/cargar/en-curso?command={command.id}", headers=HX)
    assert "El cargador aceptó" in answered.text


def test_start_goes_to_the_booked_connector(client, login, tagged, depot, db, enqueued):
    now = utcnow()
    booking = svc.book_slot(
        db,
        tagged.id,
        depot.id,
        svc.list_available_slots(
            db, depot.id, ConnectorType.CCS2, bookable_days(depot, now)[1], now=now
        )[0].start,
        now=now,
    )
    # Pretend the window is open now.
    booking.window_start = now - timedelta(minutes=5)
    booking.window_end = now + timedelta(minutes=55)
    booking.connector = booking.charger.connectors[1]
    db.flush()
    login(tagged.user)
    client.post("/conductor/cargar/iniciar", data={"depot": depot.id})
    assert enqueued[0].params["evse_id"] == 2


def test_start_on_an_offline_charger_fails_fast_in_spanish(
    client, login, tagged, depot, db, enqueued
):
    charger = depot_charger(db, depot)
    charger.online = False
    db.flush()
    login(tagged.user)
    response = client.post("/conductor/cargar/iniciar", data={"depot": depot.id}, headers=HX)
    assert response.status_code == 422
    assert "no hay un conector libre" in response.text


def test_start_fails_fast_when_the_charger_just_went_silent(
    client, login, tagged, depot, db, enqueued, monkeypatch
):
    # Online when the connector is chosen, silent by the time the command is logged.
    charger = depot_charger(db, depot)
    charger.last_seen_at = utcnow() - timedelta(seconds=charger.heartbeat_interval_s * 3 - 1)
    db.flush()
    login(tagged.user)
    monkeypatch.setattr(
        "portal.models.charging.Charger.is_online",
        lambda self, now=None, _calls=[]: _calls.append(1) or len(_calls) == 1,
    )
    response = client.post("/conductor/cargar/iniciar", data={"depot": depot.id}, headers=HX)
    assert response.status_code == 200
    (command,) = enqueued
    assert command.status == CommandStatus.FAILED
    assert "El cargador está desconectado." in response.text


def test_start_without_a_card_is_refused(client, login, driver, depot, enqueued):
    login(driver.user)
    response = client.post("/conductor/cargar/iniciar", data={"depot": depot.id}, headers=HX)
    assert response.status_code == 422
    assert "Todavía no tienes tarjeta de carga" in response.text
    assert enqueued == []
    assert client.post("/conductor/cargar/iniciar", data={}, headers=HX).status_code == 422


def test_stop_only_my_own_session_with_confirmation(
    client, login, tagged, depot, db, enqueued, make_charging_session, make_driver
):
    charger = depot_charger(db, depot)
    mine = make_charging_session(charger, driver_id=tagged.id)
    theirs = make_charging_session(charger, driver_id=make_driver().id)
    login(tagged.user)
    confirm = client.get(f"/conductor/cargar/sesiones/{mine.id}/detener", headers=HX)
    assert confirm.status_code == 200
    assert "¿Detener la carga?" in confirm.text
    assert enqueued == []
    response = client.post(f"/conductor/cargar/sesiones/{mine.id}/detener", headers=HX)
    assert response.status_code == 200
    (command,) = enqueued
    assert command.action == CommandAction.REMOTE_STOP
    assert command.params["session_id"] == mine.id
    assert 'id="live-confirm" hx-swap-oob="true"' in response.text
    for method in ("GET", "POST"):
        other = client.open(f"/conductor/cargar/sesiones/{theirs.id}/detener", method=method)
        assert other.status_code == 404
    assert len(enqueued) == 1


def test_another_users_command_is_not_found(client, login, tagged, depot, db, enqueued, make_user):
    from portal.services.charging.commands import request_command

    command = request_command(
        db,
        depot_charger(db, depot).id,
        CommandAction.UNLOCK_CONNECTOR,
        {"evse_id": 1},
        make_user(Role.STAFF).id,
    )
    login(tagged.user)
    assert client.get(f"/conductor/cargar/en-curso?command={command.id}").status_code == 404
    assert client.get("/conductor/cargar/en-curso?command=abc").status_code == 404
