"""Staff's charger board and charger detail, managers' energy, admins' charger registry."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal.db import utcnow
from portal.models import (
    AuditEvent,
    Charger,
    ChargerCommand,
    ChargerEvent,
    ChargerEventKind,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    CommandStatus,
    ConnectorStatus,
    ConnectorType,
    IdTag,
    LedgerEntry,
    Role,
    SessionReview,
    SessionStatus,
)
from portal.passwords import verify_machine_secret
from portal.services.charging.bookings import book_slot, bookable_days, depot_zone

HX = {"HX-Request": "true"}


@pytest.fixture
def board(db, make_depot, make_charger, make_contract, make_vehicle, make_charging_session):
    depot = make_depot(name="Depósito Tableta")
    busy = make_charger(
        depot=depot,
        name="Vallejo 1",
        connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.GBT, "60")],
    )
    silent = make_charger(depot=depot, name="Vallejo 2", online=False)
    driver = make_contract(vehicle=make_vehicle(depot=depot)).driver
    busy.connectors[0].status = ConnectorStatus.CHARGING
    running = make_charging_session(
        busy, driver_id=driver.id, last_meter_wh=1_021_500, last_power_kw=55.0, last_soc=71.0
    )
    return {"depot": depot, "busy": busy, "silent": silent, "driver": driver, "session": running}


def test_board_shows_every_charger_online_or_not_and_the_session_on_it(
    client, login, make_user, board
):
    login(make_user(Role.STAFF))
    response = client.get(f"/operacion/cargadores?depot={board['depot'].id}")
    assert response.status_code == 200
    text = response.text
    assert "Vallejo 1" in text
    assert "Vallejo 2" in text
    assert text.count("En línea") == 1
    assert "Desconectado" in text
    assert board["driver"].full_name in text
    assert "21.5 kWh" in text
    assert "Cargando" in text
    # Commands only for the charger that can hear them.
    assert f"/operacion/cargadores/{board['silent'].id}/comando" not in text
    assert f"action=remote_stop&amp;session_id={board['session'].id}" in text


def test_board_fragment_polls_itself(client, login, make_user, board):
    login(make_user(Role.STAFF))
    fragment = client.get(f"/operacion/cargadores?depot={board['depot'].id}", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="board"' in fragment.text
    assert 'hx-trigger="every 5s"' in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_board_lists_the_days_bookings(client, login, make_user, board, db):
    depot, driver = board["depot"], board["driver"]
    now = utcnow()
    today, tomorrow = bookable_days(depot, now)
    day = tomorrow if now.astimezone(depot_zone(depot)).hour >= 21 else today
    start = datetime(day.year, day.month, day.day, 22, tzinfo=depot_zone(depot))
    book_slot(db, driver.id, depot.id, start, now=now)
    login(make_user(Role.STAFF))
    text = client.get(f"/operacion/cargadores?depot={depot.id}").text
    if day == today:
        assert "22:00–23:00" in text
        assert driver.full_name in text


def test_stop_needs_a_confirmation_then_sends_the_command(
    client, login, make_user, board, db, enqueued
):
    staff = make_user(Role.STAFF)
    login(staff)
    charger, running = board["busy"], board["session"]
    url = f"/operacion/cargadores/{charger.id}/comando"
    confirm = client.get(f"{url}?action=remote_stop&session_id={running.id}&evse_id=1", headers=HX)
    assert confirm.status_code == 200
    assert "<html" not in confirm.text
    assert "Sí, enviarla" in confirm.text
    assert enqueued == []
    assert db.scalar(select(ChargerCommand.id)) is None

    response = client.post(
        url, data={"action": "remote_stop", "session_id": running.id, "evse_id": 1}, headers=HX
    )
    assert response.status_code == 200
    assert "Esperando la respuesta del cargador" in response.text
    (command,) = enqueued
    assert command.action == CommandAction.REMOTE_STOP
    assert command.params["transaction_id"] == running.transaction_id
    assert command.requested_by_id == staff.id
    assert db.scalar(select(AuditEvent).where(AuditEvent.actor_id == staff.id)) is not None

    poll = f"/operacion/cargadores/{charger.id}/comandos/{command.id}"
    assert f'hx-get="{poll}"' in response.text
    db.get(ChargerCommand, command.id).status = CommandStatus.ACCEPTED
    db.flush()
    answered = client.get(poll, headers=HX)
    assert "El cargador aceptó la orden." in answered.text
    assert "hx-get" not in answered.text  # finished: the polling stops


def test_start_from_the_tablet_needs_the_drivers_card(
    client, login, make_user, board, db, enqueued
):
    login(make_user(Role.STAFF))
    url = f"/operacion/cargadores/{board['busy'].id}/comando"
    missing = client.post(url, data={"action": "remote_start", "evse_id": 2}, headers=HX)
    assert missing.status_code == 422
    assert "Escribe una tarjeta." in missing.text
    response = client.post(
        url, data={"action": "remote_start", "evse_id": 2, "id_tag": "lafa000001"}, headers=HX
    )
    assert response.status_code == 200
    assert enqueued[0].params == {"id_tag": "lafa000001", "evse_id": 2}  # as typed


def test_a_command_to_an_offline_charger_fails_fast(client, login, make_user, board, enqueued):
    login(make_user(Role.STAFF))
    url = f"/operacion/cargadores/{board['silent'].id}/comando"
    response = client.post(url, data={"action": "unlock_connector", "evse_id": 1}, headers=HX)
    assert response.status_code == 200
    assert "El cargador está desconectado." in response.text
    assert enqueued[0].status == CommandStatus.FAILED


def test_unknown_actions_and_connectors_are_422(client, login, make_user, board, enqueued):
    login(make_user(Role.STAFF))
    url = f"/operacion/cargadores/{board['busy'].id}/comando"
    assert client.get(f"{url}?action=reset", headers=HX).status_code == 422
    bad = client.post(url, data={"action": "unlock_connector", "evse_id": 9}, headers=HX)
    assert bad.status_code == 422
    assert "no tiene conector 9" in bad.text
    assert enqueued == []


def test_a_command_of_another_charger_is_not_found(client, login, make_user, board, db):
    command = ChargerCommand(
        charger_id=board["silent"].id, action=CommandAction.UNLOCK_CONNECTOR, params={}
    )
    db.add(command)
    db.flush()
    login(make_user(Role.STAFF))
    url = f"/operacion/cargadores/{board['busy'].id}/comandos/{command.id}"
    assert client.get(url).status_code == 404
    assert client.get("/operacion/cargadores/999999").status_code == 404


def test_charger_detail_shows_the_command_log(client, login, make_user, board, db):
    staff = make_user(Role.STAFF, full_name="Rocío Salinas")
    db.add(
        ChargerCommand(
            charger_id=board["busy"].id,
            action=CommandAction.REMOTE_STOP,
            params={},
            ocpp_action="RemoteStopTransaction",
            status=CommandStatus.FAILED,
            error="The charger did not answer in time.",
            requested_by_id=staff.id,
        )
    )
    db.flush()
    login(staff)
    response = client.get(f"/operacion/cargadores/{board['busy'].id}")
    assert response.status_code == 200
    assert "RemoteStopTransaction" in response.text
    assert "El cargador no respondió a tiempo." in response.text
    assert "Rocío Salinas" in response.text
    fragment = client.get(f"/operacion/cargadores/{board['busy'].id}", headers=HX)
    assert "<html" not in fragment.text
    assert 'id="detail"' in fragment.text


def test_energy_per_depot_and_day_with_a_chart(client, login, make_user, board, db):
    charger = board["busy"]
    stopped = utcnow() - timedelta(hours=1)
    db.add(
        ChargingSession(
            charger_id=charger.id,
            transaction_id="E1",
            status=SessionStatus.COMPLETED,
            started_at=stopped - timedelta(minutes=40),
            stopped_at=stopped,
            meter_start_wh=0,
            meter_stop_wh=30_500,
            energy_wh=30_500,
            cost_cents=13_725,
        )
    )
    db.flush()
    login(make_user(Role.MANAGER))
    response = client.get("/gerencia/energia")
    assert response.status_code == 200
    assert "<svg" in response.text
    assert "<rect" in response.text
    assert "Depósito Tableta" in response.text
    assert "$137.25" in response.text
    # The running session's 21.5 kWh count on its day too.
    assert "52.0" in response.text


def test_charger_detail_shows_what_waits_for_review_and_what_the_charger_reported(
    client, login, make_user, board, db
):
    from datetime import date

    from portal.services.charging.prices import set_energy_price

    charger = board["busy"]
    driver_id = board["driver"].id
    set_energy_price(db, charger.depot_id, date(2024, 1, 1), 500)
    started = utcnow() - timedelta(hours=2)
    held = ChargingSession(
        charger_id=charger.id,
        transaction_id="HELD-1",
        driver_id=driver_id,
        status=SessionStatus.COMPLETED,
        started_at=started,
        stopped_at=started + timedelta(minutes=10),
        meter_start_wh=0,
        meter_stop_wh=100_000,
        energy_wh=100_000,
        review=SessionReview.IMPLAUSIBLE,
    )
    db.add_all(
        [
            held,
            ChargerEvent(
                charger_id=charger.id,
                kind=ChargerEventKind.SECURITY,
                name="TamperDetectionActivated",
                occurred_at=started,
                payload={"type": "TamperDetectionActivated", "tech_info": "door open"},
            ),
        ]
    )
    db.flush()
    staff = make_user(Role.STAFF)
    login(staff)
    page = client.get(f"/operacion/cargadores/{charger.id}")
    assert "Sesiones por revisar" in page.text
    assert "no se cobró" in page.text
    assert "Evento de seguridad" in page.text
    assert "TamperDetectionActivated · door open" in page.text
    review = f"/operacion/cargadores/{charger.id}/sesiones/{held.id}/revision"
    assert "Cobrarla" not in page.text  # billing is for managers
    assert client.post(review, data={"decision": "bill"}).status_code == 403

    manager = make_user(Role.MANAGER)
    client.post("/salir")
    login(manager)
    assert "Cobrarla" in client.get(f"/operacion/cargadores/{charger.id}").text
    assert client.post(review, data={"decision": "bill"}).status_code == 303
    db.refresh(held)
    assert held.reviewed_by_id == manager.id
    entry = db.get(LedgerEntry, held.ledger_entry_id)
    assert entry.amount_cents == 50_000
    assert "Sesiones por revisar" not in client.get(f"/operacion/cargadores/{charger.id}").text
    again = client.post(review, data={"decision": "bill"})  # reviewed once only
    assert again.status_code == 303
    assert db.scalar(select(LedgerEntry.id).where(LedgerEntry.driver_id == driver_id)) == entry.id


def test_staff_cannot_open_the_energy_page_or_the_registry(client, login, make_user):
    login(make_user(Role.STAFF))
    assert client.get("/gerencia/energia").status_code == 403
    assert client.get("/admin/cargadores").status_code == 403
    assert client.post("/admin/cargadores", data={}).status_code == 403


# --- admin ----------------------------------------------------------------------------


def test_admin_registers_a_charger_and_sees_its_password_once(
    app, client, login, make_user, make_depot, db
):
    depot = make_depot()
    admin = make_user(Role.ADMIN)
    login(admin)
    form = {
        "identity": "LAFA-NEW-01",
        "name": "Nuevo 1",
        "depot": depot.id,
        "ocpp_version": "ocpp2.0.1",
        "connectors-0-connector_type": "CCS2",
        "connectors-0-max_kw": "120",
        "connectors-1-connector_type": "GBT",
        "connectors-1-max_kw": "60",
    }
    response = client.post("/admin/cargadores", data=form)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="secret">([^<]+)</code>', response.text).group(1)
    assert len(password) >= 24
    charger = db.scalar(select(Charger).where(Charger.identity == "LAFA-NEW-01"))
    assert charger.depot_id == depot.id
    assert charger.ocpp_version == "ocpp2.0.1"
    assert password not in charger.password_hash
    key = app.config["CHARGER_SECRET_KEY"]
    assert verify_machine_secret(key, "LAFA-NEW-01", charger.password_hash, password)
    assert [(c.evse_id, c.connector_type, str(c.max_kw)) for c in charger.connectors] == [
        (1, ConnectorType.CCS2, "120.0"),
        (2, ConnectorType.GBT, "60.0"),
    ]
    page = client.get("/admin/cargadores")
    assert "LAFA-NEW-01" in page.text
    assert "2: GB/T 60 kW" in page.text
    assert password not in page.text  # shown once

    again = client.post("/admin/cargadores", data=form)
    assert again.status_code == 422
    assert "Ya existe un cargador con la identidad LAFA-NEW-01." in again.text


def test_admin_approves_and_refuses_chargers_that_registered_themselves(
    client, login, make_user, make_depot, db
):
    depot = make_depot(name="Depósito Norte")
    waiting = Charger(identity="AUTO-1", registration=ChargerRegistration.PENDING)
    other = Charger(identity="AUTO-2", registration=ChargerRegistration.PENDING)
    db.add_all([waiting, other])
    db.flush()
    admin = make_user(Role.ADMIN)
    login(admin)
    page = client.get("/admin/cargadores")
    assert f"/admin/cargadores/{waiting.id}/aprobar" in page.text
    assert f"/admin/cargadores/{waiting.id}/rechazar" in page.text

    response = client.post(f"/admin/cargadores/{waiting.id}/aprobar", data={"depot": depot.id})
    assert response.status_code == 303
    db.refresh(waiting)
    assert waiting.registration == ChargerRegistration.ACCEPTED
    assert waiting.depot_id == depot.id
    assert client.post(f"/admin/cargadores/{other.id}/rechazar").status_code == 303
    db.refresh(other)
    assert other.registration == ChargerRegistration.REJECTED
    actions = set(
        db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)).all()
    )
    assert {"charger.approved", "charger.rejected"} <= actions

    # Approving needs a depot when the charger has none.
    lost = Charger(identity="AUTO-3", registration=ChargerRegistration.PENDING)
    db.add(lost)
    db.flush()
    refused = client.post(f"/admin/cargadores/{lost.id}/aprobar", data={})
    assert refused.status_code == 422
    assert "Elige el depósito del cargador." in refused.text
    assert client.post("/admin/cargadores/999999/aprobar", data={}).status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identity": "con espacio"}, "solo puede tener letras"),
        ({"identity": "../x"}, "solo puede tener letras"),
        ({"connectors-0-connector_type": ""}, "al menos un conector"),
        ({"connectors-0-max_kw": "mucho"}, "número de kW"),
    ],
)
def test_registration_errors_are_422_in_spanish(
    client, login, make_user, make_depot, db, change, message
):
    login(make_user(Role.ADMIN))
    form = {
        "identity": "LAFA-OK-01",
        "depot": make_depot().id,
        "ocpp_version": "ocpp1.6",
        "connectors-0-connector_type": "CCS2",
        "connectors-0-max_kw": "60",
    } | change
    response = client.post("/admin/cargadores", data=form)
    assert response.status_code == 422
    assert message in response.text
    assert db.scalar(select(Charger.id).where(Charger.identity == form["identity"])) is None


def test_admin_assigns_and_deactivates_a_card(client, login, make_user, make_driver, db):
    driver = make_driver()
    login(make_user(Role.ADMIN))
    response = client.post(
        "/admin/tarjetas", data={"driver": f"+52 {driver.phone}", "tag": " rfid-0042/a "}
    )
    assert response.status_code == 303
    tag = db.scalar(select(IdTag).where(IdTag.tag == "rfid-0042/a"))  # as the card sends it
    assert tag.driver_id == driver.id
    assert tag.active
    assert "rfid-0042/a" in client.get("/admin/tarjetas?q=rfid").text
    assert client.get("/admin/tarjetas?q=rfid", headers=HX).text.count("<html") == 0

    assert client.post(f"/admin/tarjetas/{tag.id}/desactivar").status_code == 303
    db.refresh(tag)
    assert not tag.active
    assert client.post(f"/admin/tarjetas/{tag.id}/activar").status_code == 303
    db.refresh(tag)
    assert tag.active
    assert client.post("/admin/tarjetas/999999/desactivar").status_code == 404

    taken = client.post("/admin/tarjetas", data={"driver": driver.curp, "tag": "RFID-0042/A"})
    assert taken.status_code == 422
    assert "Esa tarjeta ya está en uso." in taken.text
    nobody = client.post("/admin/tarjetas", data={"driver": "5500000000", "tag": "X1"})
    assert nobody.status_code == 422
    assert "Ningún conductor" in nobody.text
