"""Incident pages: the driver's report with uploads, the staff's page and its htmx
fragments, the manager's liability, and who may see what."""

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.models import (
    EntryKind,
    Incident,
    IncidentAttachment,
    IncidentStatus,
    LedgerEntry,
    Role,
    VehicleStatus,
)
from portal.services import ledger, storage
from tests import images

HX = {"HX-Request": "true"}


def _report_form(**overrides):
    data = {
        "type": "accident",
        "occurred_at": "2026-11-20T08:15",
        "place": "Eje Central y Av. Juárez",
        "description": "Un auto se pasó el alto y me pegó en la puerta derecha.",
        "latitude": "",
        "longitude": "",
        "position_source": "",
    }
    return data | overrides


def _files(*items):
    return [(io.BytesIO(data), name) for data, name in items]


def _count(db, model):
    return db.scalar(select(func.count(model.id)))


def _stored(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def driver_contract(make_contract, login):
    contract = make_contract()
    login(contract.driver.user)
    return contract


# -- the driver reports ------------------------------------------------------------


def test_the_report_form_is_made_for_a_phone(client, driver_contract):
    page = client.get("/conductor/incidentes/nuevo")
    assert page.status_code == 200
    html = page.text
    assert "Reportar un incidente" in html
    assert 'capture="environment"' in html
    assert 'name="latitude"' in html
    assert 'type="hidden"' in html
    assert "data-geolocate" in html
    assert "js/incidents.js" in html
    assert driver_contract.vehicle.plate in html
    assert re.search(r'value="\d{4}-\d\d-\d\dT\d\d:\d\d"', html)  # now, in Mexico City


def test_a_driver_reports_an_accident_with_two_photos(
    client, db, driver_contract, incident_storage
):
    response = client.post(
        "/conductor/incidentes/nuevo",
        data=_report_form(
            latitude="19.433000",
            longitude="-99.140000",
            position_source="phone",
            photos=_files(
                (images.photo(gps=True), "IMG_0001.jpg"), (images.photo(fmt="PNG"), "b.png")
            ),
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    incident = db.scalar(select(Incident).where(Incident.driver_id == driver_contract.driver_id))
    assert response.headers["Location"] == f"/conductor/incidentes/{incident.id}"
    assert incident.status == IncidentStatus.REPORTED
    assert incident.occurred_at.isoformat() == "2026-11-20T14:15:00+00:00"  # 08:15 CDMX
    assert str(incident.latitude) == "19.433000"
    assert incident.position_source == "phone"
    assert len(incident.attachments) == 2
    jpeg = incident.attachments[0]
    data = storage.read_blob(incident_storage, jpeg.sha256)
    assert b"TestPhone" not in data
    assert len(Image.open(io.BytesIO(data)).getexif()) == 0

    page = client.get(response.headers["Location"]).text
    assert "Recibimos tu reporte" in page
    assert "Reportado" in page


def test_htmx_report_redirects_with_hx_redirect(client, db, driver_contract, incident_storage):
    response = client.post(
        "/conductor/incidentes/nuevo",
        data=_report_form(photos=_files((images.photo(), "a.jpg"))),
        content_type="multipart/form-data",
        headers=HX,
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/conductor/incidentes/")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ((images.EXE, "foto.jpg"), "foto.jpg no es una foto (JPEG, PNG, WebP) ni un PDF."),
        ((images.HEIC, "IMG_0002.HEIC"), "IMG_0002.HEIC es una foto HEIC"),
        ((b"", "vacia.jpg"), "vacia.jpg está vacío."),
    ],
)
def test_a_bad_file_refuses_the_report_and_stores_nothing(
    client, db, driver_contract, incident_storage, upload, message
):
    before = _count(db, Incident)
    response = client.post(
        "/conductor/incidentes/nuevo",
        data=_report_form(photos=_files((images.photo(), "ok.jpg"), upload)),
        content_type="multipart/form-data",
        headers=HX,
    )
    assert response.status_code == 422
    assert message in response.text
    assert "<html" not in response.text  # the form, for htmx to swap
    assert _count(db, Incident) == before
    assert _count(db, IncidentAttachment) == 0
    assert _stored(incident_storage) == []


def test_a_file_over_the_limit_is_refused_in_spanish(
    app, client, db, driver_contract, incident_storage
):
    app.config["INCIDENT_MAX_FILE_BYTES"] = 50_000
    try:
        response = client.post(
            "/conductor/incidentes/nuevo",
            data=_report_form(photos=_files((images.photo(1200, 900) + b"\0" * 60_000, "g.jpg"))),
            content_type="multipart/form-data",
        )
    finally:
        app.config["INCIDENT_MAX_FILE_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 422
    assert "g.jpg pesa más de 0 MB." in response.text or "pesa más de" in response.text
    assert _count(db, Incident) == 0
    assert _stored(incident_storage) == []


def test_a_request_over_the_upload_limit_answers_413_in_spanish(
    app, client, db, driver_contract, incident_storage
):
    app.config["UPLOAD_MAX_CONTENT_LENGTH"] = 100_000
    try:
        response = client.post(
            "/conductor/incidentes/nuevo",
            data=_report_form(photos=_files((b"\xff\xd8\xff" + b"\0" * 200_000, "big.jpg"))),
            content_type="multipart/form-data",
        )
    finally:
        app.config["UPLOAD_MAX_CONTENT_LENGTH"] = 81 * 1024 * 1024
    assert response.status_code == 413
    assert "El archivo es demasiado grande." in response.text
    assert _count(db, Incident) == 0
    assert _stored(incident_storage) == []


def test_uploads_get_more_room_than_other_forms(app, client, driver_contract):
    # Scaled down (kept under the test client's 500 kB spooling): uploads get
    # UPLOAD_MAX_CONTENT_LENGTH, every other form MAX_CONTENT_LENGTH.
    limits = {"MAX_CONTENT_LENGTH": 100_000, "UPLOAD_MAX_CONTENT_LENGTH": 400_000}
    previous = {k: app.config[k] for k in limits}
    app.config.update(limits)
    body = b"x" * 200_000
    try:
        response = client.post(
            "/conductor/incidentes/nuevo",
            data={"description": "", "photos": (io.BytesIO(body), "a.jpg")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422  # read, and refused as a form
        response = client.post(
            "/cuenta/contrasena",
            data={"current": (io.BytesIO(body), "a.txt")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 413
    finally:
        app.config.update(previous)


def test_the_report_form_refuses_missing_fields_with_422(client, driver_contract):
    response = client.post("/conductor/incidentes/nuevo", data={"type": "accident"}, headers=HX)
    assert response.status_code == 422
    assert "Cuéntanos brevemente qué pasó." in response.text
    assert "Escribe la fecha y la hora." in response.text


def test_a_driver_without_a_contract_is_told_so(client, login, make_driver):
    login(make_driver().user)
    page = client.get("/conductor/incidentes/nuevo")
    assert page.status_code == 200
    assert "No tienes un contrato activo" in page.text
    assert client.post("/conductor/incidentes/nuevo", data=_report_form()).status_code == 422


def test_the_driver_sees_only_their_own_incidents(client, login, make_incident, incident_url):
    mine = make_incident()
    theirs = make_incident()
    login(mine.driver.user)
    listing = client.get("/conductor/incidentes").text
    assert mine.number in listing
    assert theirs.number not in listing
    assert client.get(f"/conductor/incidentes/{mine.id}").status_code == 200
    assert client.get(f"/conductor/incidentes/{theirs.id}").status_code == 404
    # Their attachment, even with a real id, is not found for this driver.
    other_path = incident_url(theirs.driver.user, "/<int:incident_id>/<int:attachment_id>")
    incident_id, attachment_id = other_path.strip("/").split("/")
    url = f"/conductor/incidentes/{incident_id}/adjuntos/{attachment_id}"
    assert client.get(url).status_code == 404
    # Nor through their own incident's URL with someone else's attachment.
    mixed = f"/conductor/incidentes/{mine.id}/adjuntos/{attachment_id}"
    assert client.get(mixed).status_code == 404
    response = client.post(
        f"/conductor/incidentes/{theirs.id}/adjuntos",
        data={"files": _files((images.photo(), "x.jpg"))},
        content_type="multipart/form-data",
    )
    assert response.status_code == 404


def test_attachments_are_served_with_their_sniffed_type(
    client, db, login, make_user, make_incident, incident_storage
):
    incident = make_incident()
    photo = images.photo()
    attachment = IncidentAttachment(
        incident=incident,
        sha256=storage.put_blob(incident_storage, photo),
        content_type="image/jpeg",
        size_bytes=len(photo),
        original_name="evil.html",
        uploaded_by_id=incident.reported_by_id,
    )
    db.add(attachment)
    db.flush()
    login(incident.driver.user)
    response = client.get(f"/conductor/incidentes/{incident.id}/adjuntos/{attachment.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == photo
    response.close()
    client.post("/salir")
    login(make_user(Role.STAFF))
    response = client.get(f"/operacion/incidentes/{incident.id}/adjuntos/{attachment.id}")
    assert response.status_code == 200
    response.close()


def test_a_driver_adds_photos_later(client, db, make_incident, login, incident_storage):
    incident = make_incident()
    login(incident.driver.user)
    url = f"/conductor/incidentes/{incident.id}/adjuntos"
    response = client.post(
        url, data={"files": _files((images.photo(), "x.jpg"))}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    assert len(incident.attachments) == 1
    refused = client.post(
        url,
        data={"files": _files((images.EXE, "y.jpg"))},
        content_type="multipart/form-data",
        headers=HX,
    )
    assert refused.status_code == 422
    assert "y.jpg no es una foto" in refused.text
    assert "<html" not in refused.text


# -- staff -------------------------------------------------------------------------


def test_the_queue_full_page_then_fragment(client, login, make_user, make_incident):
    accident = make_incident()
    theft = make_incident(type="theft")
    login(make_user(Role.STAFF))
    full = client.get("/operacion/incidentes")
    assert full.status_code == 200
    assert "<html" in full.text
    assert 'id="results"' in full.text
    assert accident.number in full.text
    assert theft.number in full.text
    assert "HX-Request" in full.headers["Vary"]
    fragment = client.get("/operacion/incidentes?type=theft", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert theft.number in fragment.text
    assert accident.number not in fragment.text
    bad = client.get("/operacion/incidentes?status=nope", headers=HX)
    assert bad.status_code == 422
    assert "Revisa los filtros." in bad.text


def test_staff_move_an_incident_along_with_htmx(client, db, login, make_user, make_incident):
    incident = make_incident()
    staff = make_user(Role.STAFF)
    login(staff)
    url = f"/operacion/incidentes/{incident.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "Iniciar revisión" in page.text
    assert "Cobrar al conductor" not in page.text  # managers only

    response = client.post(f"{url}/estado", data={"to_status": "in_review"}, headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Cambió el estado de Reportado a En revisión." in response.text
    assert staff.full_name in response.text

    skipped = client.post(f"{url}/estado", data={"to_status": "closed"}, headers=HX)
    assert skipped.status_code == 200  # in review → closed is allowed (no claim)
    db.refresh(incident)
    assert incident.status == IncidentStatus.CLOSED

    again = client.post(f"{url}/estado", data={"to_status": "in_review"}, headers=HX)
    assert again.status_code == 422
    assert "sigue el flujo" in again.text


def test_a_skipped_step_is_refused_with_422(client, login, make_user, make_incident):
    incident = make_incident()
    login(make_user(Role.STAFF))
    response = client.post(
        f"/operacion/incidentes/{incident.id}/estado", data={"to_status": "in_repair"}
    )
    assert response.status_code == 422
    assert "<html" in response.text  # without htmx, the whole page
    assert "sigue el flujo" in response.text


def test_in_repair_shows_on_the_fleet_board(client, db, login, make_user, make_incident):
    incident = make_incident(status=IncidentStatus.IN_REVIEW)
    login(make_user(Role.STAFF))
    response = client.post(
        f"/operacion/incidentes/{incident.id}/estado", data={"to_status": "in_repair"}
    )
    assert response.status_code == 303
    assert incident.vehicle.status == VehicleStatus.IN_REPAIR
    board = client.get("/operacion/flota?status=in_repair").text
    assert incident.vehicle.plate in board


def test_insurance_fields_and_comments(client, db, login, make_user, make_incident):
    incident = make_incident()
    login(make_user(Role.STAFF))
    url = f"/operacion/incidentes/{incident.id}"
    response = client.post(
        f"{url}/seguro",
        data={
            "insurer": "Qualitas",
            "claim_number": "04-1234567-8",
            "deductible": "$5,000.00",
            "deductible_payer": "driver",
            "repair_cost": "18 350.50",
        },
        headers=HX,
    )
    assert response.status_code == 200
    db.refresh(incident)
    assert incident.deductible_cents == 500_000
    assert incident.repair_cost_cents == 1_835_050
    assert "Número de siniestro: 04-1234567-8" in response.text
    assert "Deducible: $5,000.00" in response.text

    bad = client.post(f"{url}/seguro", data={"deductible": "cinco mil"}, headers=HX)
    assert bad.status_code == 422
    assert "Escribe un monto en pesos" in bad.text

    comment = client.post(f"{url}/comentarios", data={"body": "Ajustador en camino."}, headers=HX)
    assert comment.status_code == 200
    assert "Ajustador en camino." in comment.text
    assert client.post(f"{url}/comentarios", data={"body": ""}, headers=HX).status_code == 422


def test_staff_upload_a_pdf_and_a_renamed_exe_is_refused(
    client, db, login, make_user, make_incident, incident_storage
):
    incident = make_incident()
    login(make_user(Role.STAFF))
    url = f"/operacion/incidentes/{incident.id}/adjuntos"
    ok = client.post(
        url,
        data={"files": _files((images.pdf(), "denuncia.pdf"))},
        content_type="multipart/form-data",
        headers=HX,
    )
    assert ok.status_code == 200
    assert "denuncia.pdf" in ok.text
    [attachment] = incident.attachments
    assert attachment.content_type == "application/pdf"
    served = client.get(f"{url}/{attachment.id}")
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment")
    served.close()
    stored = _stored(incident_storage)
    refused = client.post(
        url,
        data={"files": _files((images.EXE, "setup.jpg"))},
        content_type="multipart/form-data",
        headers=HX,
    )
    assert refused.status_code == 422
    assert "setup.jpg no es una foto" in refused.text
    assert _stored(incident_storage) == stored


# -- manager -----------------------------------------------------------------------


def test_a_manager_charges_the_deductible_once_and_corrects_it(
    client, db, login, make_user, make_incident
):
    incident = make_incident()
    login(make_user(Role.MANAGER))
    page = client.get(f"/operacion/incidentes/{incident.id}").text
    assert "Cobrar al conductor" in page
    form = {"kind": "deductible", "amount": "5,000", "reason": "Deducible del siniestro"}
    sequence = re.search(r'name="sequence" type="hidden" value="(\d+)"', page)
    assert sequence, page
    form["sequence"] = sequence.group(1)
    url = f"/gerencia/incidentes/{incident.id}/responsabilidad"
    first = client.post(url, data=form, headers=HX)
    assert first.status_code == 200
    assert "Deducible: <strong" in first.text
    second = client.post(url, data=form)  # sent twice
    assert second.status_code == 303
    entries = db.scalars(select(LedgerEntry).where(LedgerEntry.source_id == str(incident.id)))
    [entry] = entries.all()
    assert (entry.kind, entry.amount_cents) == (EntryKind.DEDUCTIBLE, 500_000)
    assert ledger.driver_balance(db, incident.driver_id) == 500_000

    # The driver sees it on the incident.
    bad = client.post(url, data=form | {"amount": "", "sequence": "2"}, headers=HX)
    assert bad.status_code == 422
    assert "Escribe el monto." in bad.text

    reverse_url = f"{url}/{entry.id}/correccion"
    assert client.post(reverse_url, data={"reason": ""}, headers=HX).status_code == 422
    done = client.post(reverse_url, data={"reason": "Lo cubrió el seguro"}, headers=HX)
    assert done.status_code == 200
    assert "Corregido" in done.text
    assert ledger.driver_balance(db, incident.driver_id) == 0


def test_the_driver_sees_what_was_charged(client, db, login, make_user, make_incident):
    from portal.services.incidents import claims as incident_claims
    from portal.services.incidents import costs as incident_costs

    incident = make_incident()
    incident_costs.assign_liability(
        db,
        incident.id,
        kind=EntryKind.DEDUCTIBLE,
        amount_cents=500_000,
        reason="Deducible",
        sequence=1,
        actor_id=make_user(Role.MANAGER).id,
    )
    incident_claims.add_comment(db, incident.id, "Nota interna: revisar", author_id=make_user().id)
    login(incident.driver.user)
    page = client.get(f"/conductor/incidentes/{incident.id}").text
    assert "Cargado a tu cuenta" in page
    assert "$5,000.00" in page
    assert "Aparece en tu próximo estado de cuenta." in page
    assert "Nota interna" not in page  # staff comments stay with staff


def test_staff_cannot_charge_the_driver(client, login, make_user, make_incident):
    incident = make_incident()
    login(make_user(Role.STAFF))
    response = client.post(
        f"/gerencia/incidentes/{incident.id}/responsabilidad",
        data={"kind": "deductible", "amount": "5000", "reason": "Deducible", "sequence": "1"},
    )
    assert response.status_code == 403


def test_unknown_incidents_are_404(client, login, make_user):
    login(make_user(Role.STAFF))
    assert client.get("/operacion/incidentes/999999").status_code == 404
    assert client.post("/operacion/incidentes/999999/estado", data={}).status_code == 404
