"""The operator's records as people use them: forms answer 422 with the field's error in
Spanish, duplicates are field errors, the handover is confirmed on the driver's phone,
a forgotten password comes back with a code, someone else's records stay closed."""

import io
from decimal import Decimal

import pytest

from portal.models import (
    ConnectorType,
    ContractStatus,
    EntryKind,
    LedgerEntry,
    Role,
    Vehicle,
    VehicleModel,
    VehicleStatus,
)
from portal.services import resets
from tests import images
from tests.factories import PASSWORD


@pytest.fixture
def catalogue(db):
    entry = VehicleModel(
        make="BYD",
        model="Dolphin Mini",
        battery_kwh=Decimal("38.8"),
        range_km=380,
        connector_type=ConnectorType.CCS2,
    )
    db.add(entry)
    db.flush()
    return entry


def test_an_admin_creates_a_staff_account_and_hands_over_a_code(client, login, make_user, db):
    login(make_user(Role.ADMIN))
    bad = client.post("/admin/usuarios", data={"full_name": "Ana", "email": "no", "role": "staff"})
    assert bad.status_code == 422
    assert "Escribe un correo electrónico válido." in bad.text
    created = client.post(
        "/admin/usuarios", data={"full_name": "Ana Ruiz", "email": "ana@lafa.mx", "role": "staff"}
    )
    assert created.status_code == 303
    page = client.post(created.headers["Location"] + "/codigo", data={"confirm": "1"})
    assert page.status_code == 200
    assert "solo se muestra esta vez" in page.text
    again = client.post(
        "/admin/usuarios", data={"full_name": "Otra", "email": "ANA@lafa.mx", "role": "staff"}
    )
    assert again.status_code == 422
    assert "Alguien ya tiene ese correo." in again.text


def test_a_manager_cannot_open_the_users_page(client, login, make_user):
    login(make_user(Role.MANAGER))
    assert client.get("/admin/usuarios").status_code == 403


def test_forgotten_password_in_the_demo_shows_the_code_and_the_code_works(client, make_driver, db):
    driver = make_driver()
    login_page = client.get("/entrar")
    assert "¿Olvidaste tu contraseña?" in login_page.text
    sent = client.post("/entrar/olvide", data={"phone": driver.phone})
    assert sent.status_code == 200
    assert "Modo demostración" in sent.text
    code = sent.text.split('<span class="code">')[1].split("<")[0]
    done = client.post(
        "/entrar/codigo",
        data={
            "identifier": driver.phone,
            "code": code,
            "new": "una-clave-nueva-x",
            "confirm": "una-clave-nueva-x",
        },
    )
    assert done.status_code == 303
    assert (
        client.post(
            "/entrar", data={"identifier": driver.phone, "password": "una-clave-nueva-x"}
        ).status_code
        == 303
    )


def test_an_unknown_number_gets_the_same_answer(client):
    sent = client.post("/entrar/olvide", data={"phone": "5599998877"})
    assert sent.status_code == 200
    assert "Modo demostración" not in sent.text
    assert "Revisa tu celular" in sent.text


def test_a_wrong_code_and_a_dead_link(client, make_driver, make_user, db):
    driver = make_driver()
    wrong = client.post(
        "/entrar/codigo",
        data={
            "identifier": driver.phone,
            "code": "123456",
            "new": "una-clave-nueva-x",
            "confirm": "una-clave-nueva-x",
        },
    )
    assert wrong.status_code == 422
    assert "no es válido o ya venció" in wrong.text
    assert client.get("/entrar/restablecer/no-existe").status_code == 404
    issued = resets.issue_reset(db, driver.user, actor=make_user(Role.STAFF))
    page = client.get(f"/entrar/restablecer/{issued.token}")
    assert page.status_code == 200
    done = client.post(
        f"/entrar/restablecer/{issued.token}",
        data={"new": "otra-clave-larga", "confirm": "otra-clave-larga"},
    )
    assert done.status_code == 303
    assert client.get(f"/entrar/restablecer/{issued.token}").status_code == 404  # single use


def test_staff_create_a_driver_and_land_on_their_record(client, login, make_user):
    import random
    from datetime import date

    from portal.services.identifiers import make_curp

    login(make_user(Role.STAFF))
    curp = make_curp("Lucía", "Pérez", "Gómez", date(1990, 5, 4), "M", "DF", random.Random(7))
    created = client.post(
        "/operacion/conductores/nuevo",
        data={
            "first_name": "Lucía",
            "last_name": "Pérez",
            "second_last_name": "Gómez",
            "curp": curp,
            "phone": "5512345678",
            "privacy_notice": "y",
        },
    )
    assert created.status_code == 303, created.text
    record = client.get(created.headers["Location"])
    assert "Lucía" in record.text
    assert curp in record.text


def test_a_duplicate_vin_is_the_fields_error_never_a_500(
    client, login, make_user, make_depot, make_vehicle, catalogue
):
    login(make_user(Role.STAFF))
    depot = make_depot()
    existing = make_vehicle(vin="LGXCE4CBXS0000001")
    data = {
        "vin": existing.vin,
        "plate": "NEW-001",
        "model_id": catalogue.id,
        "year": 2025,
        "depot_id": depot.id,
        "tracker_imei": "",
    }
    response = client.post("/operacion/vehiculos/nuevo", data=data)
    assert response.status_code == 422
    assert "Otro auto tiene ese VIN" in response.text
    data["vin"] = "LGXCE4CB1S0000002"
    created = client.post("/operacion/vehiculos/nuevo", data=data)
    assert created.status_code == 303
    car = db_car(client, "NEW-001")
    record = client.get(f"/operacion/vehiculos/{car.id}/expediente")
    assert "Alta en la flotilla" in record.text


def db_car(client, plate):
    from portal.db import Session

    return Session().query(Vehicle).filter_by(plate=plate).one()


def test_the_new_contract_form_starts_with_the_usual_late_fee_and_grace_days(
    client, login, make_user, make_driver
):
    login(make_user(Role.STAFF))
    driver = make_driver()
    page = client.get(f"/operacion/contratos/nuevo?driver={driver.id}")
    assert page.status_code == 200
    assert 'name="grace_days"' in page.text
    assert 'value="2"' in page.text
    assert 'value="250' in page.text  # the late fee, $250.00


def test_a_contract_on_a_leased_car_is_refused(
    client, login, make_user, make_driver, make_vehicle, db
):
    login(make_user(Role.STAFF))
    driver = make_driver()
    leased = make_vehicle(status=VehicleStatus.LEASED)
    response = client.post(
        f"/operacion/contratos/nuevo?driver={driver.id}",
        data={
            "vehicle_id": leased.id,
            "weekly_rent": "3,500",
            "deposit": "7000",
            "term_weeks": 156,
            "starts_on": "2099-01-01",
        },
    )
    assert response.status_code == 422


def test_the_whole_handover_from_the_tablet_to_the_phone(
    app, client, login, make_user, make_driver, make_vehicle, db, contract_storage, jobs_to_redis
):
    staff, manager = make_user(Role.STAFF), make_user(Role.MANAGER)
    driver = make_driver(status="active")
    car = make_vehicle()
    from portal.timeutil import local_today

    login(staff)
    proposed = client.post(
        f"/operacion/contratos/nuevo?driver={driver.id}",
        data={
            "vehicle_id": car.id,
            "weekly_rent": "3,500",
            "deposit": "7,000",
            "term_weeks": 156,
            "starts_on": local_today().isoformat(),
            "late_fee": "250",
            "grace_days": 2,
        },
    )
    assert proposed.status_code == 303, proposed.text
    detail_url = proposed.headers["Location"]
    # No credit decision: a manager signs off first.
    assert client.post(detail_url + "/firmar").status_code == 422
    client.post("/salir")
    login(manager)
    contract_id = int(detail_url.rsplit("/", 1)[1])
    assert client.post(f"/gerencia/contratos/{contract_id}/autorizar").status_code == 303
    client.post("/salir")
    login(staff)
    assert client.post(detail_url + "/firmar").status_code == 303
    deposit = (
        db.query(LedgerEntry).filter_by(driver_id=driver.id, kind=EntryKind.SECURITY_DEPOSIT).one()
    )
    assert deposit.amount_cents == 700_000
    form = client.get(detail_url + "/entrega")
    assert form.status_code == 200
    bad = client.post(detail_url + "/entrega", data={"odometer_km": "", "soc_pct": 150})
    assert bad.status_code == 422
    assert "La carga es un porcentaje, de 0 a 100." in bad.text
    recorded = client.post(
        detail_url + "/entrega",
        data={
            "odometer_km": 1200,
            "soc_pct": 90,
            "damage_notes": "",
            "charging_card": "CARD77",
            "photos": (io.BytesIO(images.photo()), "auto.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert recorded.status_code == 303, recorded.text
    client.post("/salir")
    client.post("/entrar", data={"identifier": driver.phone, "password": PASSWORD})
    mine = client.get("/conductor/contrato")
    assert "Recibí el auto como se registró" in mine.text
    photo = mine.text.split('<img src="')[1].split('"')[0]
    shown = client.get(photo)
    shown.close()
    assert shown.status_code == 200
    assert client.post("/conductor/contrato/entrega").status_code == 303
    from portal.models import Contract

    contract = db.get(Contract, contract_id)
    db.refresh(contract)
    assert contract.status == ContractStatus.ACTIVE
    assert db.query(LedgerEntry).filter_by(driver_id=driver.id, kind=EntryKind.RENT).count() == 1


def test_a_driver_sees_only_their_own_contracts_photos(
    client, login, make_driver, make_documented_contract
):
    mine = make_documented_contract()
    theirs = make_documented_contract()
    login(mine.driver.user)
    own_photo = mine.checklists[0].photos[0]["sha256"]
    other_photo = theirs.checklists[0].photos[0]["sha256"]
    own = client.get(f"/conductor/contrato/fotos/{own_photo}")
    own.close()
    assert own.status_code == 200
    assert client.get(f"/conductor/contrato/fotos/{other_photo}").status_code == 404


def test_the_import_page_names_every_bad_row(client, login, make_user, make_depot, catalogue):
    login(make_user(Role.STAFF))
    make_depot(code="VLJ")
    csv = (
        "vin,plate,make,model,year,battery_kwh,connector,tracker_imei,depot_code,status\n"
        "LGXCE4CBXS0000001,IMP-001,BYD,Dolphin Mini,2025,38.8,CCS2,,VLJ,available\n"
        "XXX,IMP-002,BYD,Dolphin Mini,2025,38.8,CCS2,,VLJ,available\n"
    )
    response = client.post(
        "/operacion/importar",
        data={"kind": "vehicles", "file": (io.BytesIO(csv.encode()), "autos.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert (
        "autos.csv, línea 3, vin: Un VIN tiene 17 letras y números, sin I, O ni Q." in response.text
    )
    assert "no se importó nada" in response.text


def test_a_file_not_in_utf8_is_the_files_error(client, login, make_user):
    login(make_user(Role.STAFF))
    response = client.post(
        "/operacion/importar",
        data={"kind": "vehicles", "file": (io.BytesIO("vin,año\n".encode("utf-16")), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "El archivo no está en UTF-8." in response.text


@pytest.mark.parametrize(
    "url", ["/operacion/conductores?q=Luc", "/operacion/contratos?status=active"]
)
def test_the_lists_answer_htmx_with_their_results_only(
    client, login, make_user, make_contract, url
):
    make_contract()
    login(make_user(Role.STAFF))
    page = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text
    assert "<html" not in fragment.text
    assert "<table" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
