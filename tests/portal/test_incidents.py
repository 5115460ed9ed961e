"""Incidents in the domain: the workflow, the car's status, the ledger, the uploads."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.db import utcnow
from portal.models import (
    AuditEvent,
    EntryKind,
    EventKind,
    IncidentAttachment,
    IncidentStatus,
    IncidentType,
    LedgerEntry,
    PositionSource,
    Role,
    VehicleStatus,
)
from portal.services import DomainError, ledger, storage
from portal.services.incidents import attachments as incident_files
from portal.services.incidents import claims as incident_claims
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import reads as incident_reads
from portal.services.incidents import report as incident_report
from portal.services.uploads import MAX_SIDE, clean_upload
from tests import images

S = IncidentStatus
MB = 1024 * 1024


def _clean(data: bytes, name: str = "foto.jpg", max_bytes: int = 10 * MB):
    return clean_upload(io.BytesIO(data), name, max_bytes=max_bytes)


# -- the workflow ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        [S.IN_REVIEW, S.CLAIM_FILED, S.IN_REPAIR, S.CLOSED],
        [S.IN_REVIEW, S.CLOSED],  # a breakdown without a claim
        [S.IN_REVIEW, S.IN_REPAIR, S.CLOSED],  # repaired without a claim
        [S.IN_REVIEW, S.CLAIM_FILED, S.CLOSED],  # settled without repair
        [S.REJECTED],
        [S.IN_REVIEW, S.CLAIM_FILED, S.CANCELLED],
    ],
)
def test_allowed_paths_through_the_workflow(db, make_incident, make_user, path):
    staff = make_user(Role.STAFF)
    incident = make_incident(insurer="Qualitas", claim_number="SIN-0420")
    for to in path:
        incident_claims.change_status(db, incident.id, to, actor_id=staff.id, note="revisado bien")
    assert incident.status == path[-1]
    changes = [e for e in incident.events if e.kind == EventKind.STATUS_CHANGED]
    assert [(e.from_status, e.to_status) for e in changes] == list(
        zip([S.REPORTED, *path[:-1]], path, strict=True)
    )
    assert all(e.author_id == staff.id for e in changes)
    audited = db.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "incident.status_changed",
            AuditEvent.entity_id == str(incident.id),
        )
    )
    assert audited == len(path)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.REPORTED, S.CLAIM_FILED),  # skips the review
        (S.REPORTED, S.IN_REPAIR),
        (S.REPORTED, S.CLOSED),
        (S.IN_REVIEW, S.REPORTED),  # backwards
        (S.IN_REPAIR, S.CLAIM_FILED),
        (S.CLOSED, S.IN_REVIEW),  # finished is finished
        (S.REJECTED, S.IN_REVIEW),
        (S.CANCELLED, S.CLOSED),
    ],
)
def test_a_skipped_or_backward_step_is_refused(db, make_incident, make_user, start, to):
    incident = make_incident(status=start, insurer="GNP", claim_number="1")
    with pytest.raises(DomainError, match="follow the workflow"):
        incident_claims.change_status(
            db, incident.id, to, actor_id=make_user(Role.STAFF).id, note="motivo"
        )
    assert incident.status == start


def test_claim_filed_needs_the_insurer_and_claim_number(db, make_incident, make_user):
    incident = make_incident(status=S.IN_REVIEW)
    staff = make_user(Role.STAFF)
    with pytest.raises(DomainError, match="claim number"):
        incident_claims.change_status(db, incident.id, S.CLAIM_FILED, actor_id=staff.id)
    incident_claims.update_insurance(
        db, incident.id, actor_id=staff.id, insurer="Qualitas", claim_number="04-123456-7"
    )
    incident_claims.change_status(db, incident.id, S.CLAIM_FILED, actor_id=staff.id)
    assert incident.status == S.CLAIM_FILED


def test_rejecting_needs_a_reason(db, make_incident, make_user):
    incident = make_incident()
    staff = make_user(Role.STAFF)
    with pytest.raises(DomainError, match="Say why"):
        incident_claims.change_status(db, incident.id, S.REJECTED, actor_id=staff.id, note="")
    incident_claims.change_status(
        db, incident.id, S.REJECTED, actor_id=staff.id, note="Reporte duplicado del INC-7"
    )
    assert incident.events[-1].body == "Reporte duplicado del INC-7"


# -- the car follows ---------------------------------------------------------------


def test_a_car_in_repair_is_off_the_road_and_comes_back_leased(db, make_incident, make_user):
    incident = make_incident(status=S.IN_REVIEW)
    staff = make_user(Role.STAFF)
    vehicle = incident.vehicle
    assert vehicle.status == VehicleStatus.LEASED
    incident_claims.change_status(db, incident.id, S.IN_REPAIR, actor_id=staff.id)
    assert vehicle.status == VehicleStatus.IN_REPAIR
    assert incident.events[-1].details["vehicle_status"] == ["leased", "in_repair"]
    incident_claims.change_status(db, incident.id, S.CLOSED, actor_id=staff.id)
    assert vehicle.status == VehicleStatus.LEASED  # it has an active contract


def test_without_a_contract_the_car_comes_back_available(db, make_incident, make_user):
    incident = make_incident(status=S.IN_REVIEW)
    staff = make_user(Role.STAFF)
    incident_claims.change_status(db, incident.id, S.IN_REPAIR, actor_id=staff.id)
    incident.contract.status = "terminated"
    db.flush()
    incident_claims.change_status(db, incident.id, S.CLOSED, actor_id=staff.id)
    assert incident.vehicle.status == VehicleStatus.AVAILABLE


def test_another_incident_keeps_the_car_in_the_workshop(db, make_incident, make_user):
    first = make_incident(status=S.IN_REVIEW)
    staff = make_user(Role.STAFF)
    contract = first.contract
    second = make_incident(contract=contract, status=S.IN_REVIEW)
    incident_claims.change_status(db, first.id, S.IN_REPAIR, actor_id=staff.id)
    incident_claims.change_status(db, second.id, S.IN_REPAIR, actor_id=staff.id)
    incident_claims.change_status(db, first.id, S.CLOSED, actor_id=staff.id)
    assert first.vehicle.status == VehicleStatus.IN_REPAIR
    incident_claims.change_status(db, second.id, S.CLOSED, actor_id=staff.id)
    assert first.vehicle.status == VehicleStatus.LEASED


def _report(db, contract, tmp_path, **kw):
    values = {
        "driver_id": contract.driver_id,
        "reporter_id": contract.driver.user_id,
        "type": IncidentType.ACCIDENT,
        "occurred_at": utcnow() - timedelta(minutes=20),
        "place": "Calz. de Tlalpan 1200",
        "description": "Me chocaron por detrás.",
        "storage_root": tmp_path,
    }
    return incident_report.report_incident(db, **(values | kw))


def test_a_reported_theft_takes_the_car_out_of_service(db, make_contract, make_user, tmp_path):
    contract = make_contract()
    incident = _report(db, contract, tmp_path, type=IncidentType.THEFT)
    assert contract.vehicle.status == VehicleStatus.OUT_OF_SERVICE
    staff = make_user(Role.STAFF)
    # Not recovered and paid out: the car stays out of service.
    incident_claims.update_insurance(
        db, incident.id, actor_id=staff.id, insurer="HDI", claim_number="R-99"
    )
    for to in (S.IN_REVIEW, S.CLAIM_FILED, S.CLOSED):
        incident_claims.change_status(db, incident.id, to, actor_id=staff.id)
    assert contract.vehicle.status == VehicleStatus.OUT_OF_SERVICE


def test_a_recovered_or_false_theft_puts_the_car_back(db, make_contract, make_user, tmp_path):
    staff = make_user(Role.STAFF)
    contract = make_contract()
    false_alarm = _report(db, contract, tmp_path, type=IncidentType.THEFT)
    incident_claims.change_status(
        db, false_alarm.id, S.CANCELLED, actor_id=staff.id, note="Lo movió la grúa, no lo robaron"
    )
    assert contract.vehicle.status == VehicleStatus.LEASED

    found = _report(db, contract, tmp_path, type=IncidentType.THEFT, description="Otra vez")
    incident_claims.change_status(db, found.id, S.IN_REVIEW, actor_id=staff.id)
    incident_claims.update_insurance(db, found.id, actor_id=staff.id, vehicle_recovered=True)
    incident_claims.change_status(db, found.id, S.CLOSED, actor_id=staff.id)
    assert contract.vehicle.status == VehicleStatus.LEASED


# -- the driver reports ------------------------------------------------------------


def test_a_driver_reports_with_photos_and_position(db, make_contract, tmp_path):
    contract = make_contract()
    files = [_clean(images.photo(gps=True), "a.jpg"), _clean(images.photo(fmt="PNG"), "b.png")]
    incident = _report(
        db,
        contract,
        tmp_path,
        files=files,
        latitude=19.4326,
        longitude=-99.1332,
        position_source=PositionSource.PHONE,
    )
    assert incident.status == S.REPORTED
    assert incident.vehicle_id == contract.vehicle_id
    assert [e.kind for e in incident.events] == [EventKind.REPORTED, EventKind.ATTACHMENT_ADDED]
    assert [a.content_type for a in incident.attachments] == ["image/jpeg", "image/png"]
    for attachment in incident.attachments:
        data = storage.read_blob(tmp_path, attachment.sha256)
        assert storage.checksum(data) == attachment.sha256
        assert len(data) == attachment.size_bytes


def test_a_driver_without_a_contract_cannot_report(db, make_driver, tmp_path):
    driver = make_driver()
    with pytest.raises(DomainError, match="active contract"):
        incident_report.report_incident(
            db,
            driver_id=driver.id,
            reporter_id=driver.user_id,
            type=IncidentType.OTHER,
            occurred_at=utcnow(),
            place="Aquí",
            description="Algo",
            storage_root=tmp_path,
        )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"occurred_at": utcnow() + timedelta(days=1)}, "future"),
        ({"place": "", "latitude": None}, "Say where"),
        ({"latitude": 19.4, "longitude": None}, "incomplete"),
    ],
)
def test_a_report_needs_a_sensible_time_and_place(db, make_contract, tmp_path, kw, message):
    with pytest.raises(DomainError, match=message):
        _report(db, make_contract(), tmp_path, **kw)


def test_the_cars_last_position_comes_from_its_tracker(db, make_vehicle):
    from datetime import UTC, datetime

    from portal.models import VehicleState

    car = make_vehicle()
    assert incident_report.last_known_position(db, car.id) is None  # never reported
    at = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
    db.add(
        VehicleState(
            vehicle_id=car.id,
            imei=car.tracker_imei,
            device_time=at,
            received_at=at,
            latitude=19.4326077,
            longitude=-99.133208,
            angle=0,
            satellites=9,
            speed=0,
            position_valid=True,
            last_record={},
        )
    )
    db.flush()
    position = incident_report.last_known_position(db, car.id)
    assert (str(position.latitude), str(position.longitude)) == ("19.432608", "-99.133208")
    assert position.at == at


# -- liability in the ledger -------------------------------------------------------


def test_a_liability_posts_once_and_a_correction_reverses_it(db, make_incident, make_user):
    incident = make_incident(claim_number="SIN-77")
    manager = make_user(Role.MANAGER)
    sequence = incident_costs.next_liability_sequence(db, incident.id)
    assert sequence == 1
    kwargs = {
        "kind": EntryKind.DEDUCTIBLE,
        "amount_cents": 500_000,
        "reason": "Deducible del siniestro SIN-77",
        "sequence": sequence,
        "actor_id": manager.id,
    }
    entry = incident_costs.assign_liability(db, incident.id, **kwargs)
    again = incident_costs.assign_liability(db, incident.id, **kwargs)  # the form sent twice
    assert again.id == entry.id
    assert entry.idempotency_key == f"incident:{incident.id}:liability:1"
    assert (entry.source_type, entry.source_id) == ("incident", str(incident.id))
    assert entry.reference == "SIN-77"
    assert entry.contract_id == incident.contract_id
    assert ledger.driver_balance(db, incident.driver_id) == 500_000
    assert [e.kind for e in incident.events].count(EventKind.LIABILITY_ASSIGNED) == 1
    assert incident_costs.next_liability_sequence(db, incident.id) == 2

    reversal = incident_costs.reverse_liability(
        db, incident.id, entry.id, reason="El seguro absorbió el deducible", actor_id=manager.id
    )
    assert reversal.amount_cents == -500_000
    assert ledger.driver_balance(db, incident.driver_id) == 0
    [item] = incident_costs.list_liabilities(db, incident.id)
    assert item.reversal.id == reversal.id
    assert incident.events[-1].kind == EventKind.LIABILITY_REVERSED
    actions = set(
        db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == manager.id)).all()
    )
    assert {"incident.liability_assigned", "ledger.reversed"} <= actions


def test_a_stale_form_does_not_post_a_different_amount(db, make_incident, make_user):
    incident = make_incident()
    manager = make_user(Role.MANAGER)
    common = {"reason": "Multa de fotocívica", "sequence": 1, "actor_id": manager.id}
    incident_costs.assign_liability(
        db, incident.id, kind=EntryKind.FINE, amount_cents=120_000, **common
    )
    with pytest.raises(DomainError, match="meanwhile"):
        incident_costs.assign_liability(
            db, incident.id, kind=EntryKind.FINE, amount_cents=90_000, **common
        )
    assert db.scalar(select(func.count(LedgerEntry.id))) == 1


def test_liability_refusals(db, make_incident, make_user):
    manager = make_user(Role.MANAGER)
    incident = make_incident()
    with pytest.raises(DomainError, match="deductible, damage or fine"):
        incident_costs.assign_liability(
            db,
            incident.id,
            kind=EntryKind.RENT,
            amount_cents=1,
            reason="renta",
            sequence=1,
            actor_id=manager.id,
        )
    cancelled = make_incident(status=S.CANCELLED)
    with pytest.raises(DomainError, match="cannot charge"):
        incident_costs.assign_liability(
            db,
            cancelled.id,
            kind=EntryKind.DAMAGE,
            amount_cents=1000,
            reason="rayón en puerta",
            sequence=1,
            actor_id=manager.id,
        )
    other = make_incident()
    entry = incident_costs.assign_liability(
        db,
        other.id,
        kind=EntryKind.DAMAGE,
        amount_cents=1000,
        reason="rayón en puerta",
        sequence=1,
        actor_id=manager.id,
    )
    with pytest.raises(DomainError, match="does not belong"):
        incident_costs.reverse_liability(
            db, incident.id, entry.id, reason="error", actor_id=manager.id
        )


# -- timeline and insurance fields ---------------------------------------------------


def test_insurance_changes_and_comments_are_on_the_timeline(db, make_incident, make_user):
    incident = make_incident()
    staff = make_user(Role.STAFF)
    changed = incident_claims.update_insurance(
        db,
        incident.id,
        actor_id=staff.id,
        insurer="Qualitas",
        adjuster="Ing. Pérez 55 1234 5678",
        deductible_cents=500_000,
        deductible_payer="driver",
        workshop="",
    )
    assert changed == {
        "insurer": [None, "Qualitas"],
        "adjuster": [None, "Ing. Pérez 55 1234 5678"],
        "deductible_cents": [None, 500_000],
        "deductible_payer": [None, "driver"],
    }
    assert (
        incident_claims.update_insurance(db, incident.id, actor_id=staff.id, insurer="Qualitas")
        == {}
    )
    incident_claims.add_comment(db, incident.id, "Llamé al ajustador.", author_id=staff.id)
    kinds = [e.kind for e in incident.events]
    assert kinds == [EventKind.REPORTED, EventKind.FIELDS_UPDATED, EventKind.COMMENT]
    assert incident.events[-1].author_id == staff.id
    with pytest.raises(DomainError, match="Write a comment"):
        incident_claims.add_comment(db, incident.id, "   ", author_id=staff.id)


def test_the_queue_filters(db, make_incident, make_depot, make_vehicle, make_contract):
    north = make_depot()
    car = make_vehicle(depot=north, status=VehicleStatus.LEASED)
    mine = make_incident(contract=make_contract(vehicle=car), type=IncidentType.THEFT)
    old = make_incident(created_at=utcnow() - timedelta(days=40))
    closed = make_incident(status=S.CLOSED)

    def ids(**kw):
        return {i.id for i in incident_reads.list_incidents(db, **kw).items}

    assert ids() >= {mine.id, old.id}
    assert closed.id not in ids()
    assert closed.id in ids(status="all")
    assert closed.id in ids(status="closed")
    assert ids(type=IncidentType.THEFT) == {mine.id}
    assert ids(depot_id=north.id) == {mine.id}
    assert old.id not in ids(age="7d")
    assert mine.id in ids(age="1d")
    assert ids(age="30d") == {old.id}


# -- uploads -----------------------------------------------------------------------


def test_a_jpeg_loses_its_gps_and_is_turned_upright():
    raw = images.photo(800, 600, gps=True, orientation=6)
    assert b"TestPhone" in raw
    clean = _clean(raw)
    assert clean.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(clean.data))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert b"Exif" not in clean.data
    assert b"TestPhone" not in clean.data
    assert (image.width, image.height) == (600, 800)  # rotated as the camera meant


def test_a_big_photo_is_scaled_down():
    clean = _clean(images.photo(4000, 3000))
    assert max(clean.width, clean.height) == MAX_SIDE


def test_png_webp_and_pdf_pass(tmp_path):
    assert _clean(images.photo(fmt="PNG"), "x.png").content_type == "image/png"
    assert _clean(images.photo(fmt="WEBP"), "x.webp").content_type == "image/webp"
    document = images.pdf()
    clean = _clean(document, "denuncia.pdf")
    assert (clean.content_type, clean.data) == ("application/pdf", document)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (images.EXE, "foto.jpg", "is not a photo"),
        (images.HEIC, "IMG_0001.HEIC", "HEIC"),
        (b"", "vacia.jpg", "empty"),
        (b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10, "rota.jpg", "could not be read"),
    ],
)
def test_bad_files_are_refused(data, name, message):
    with pytest.raises(DomainError, match=message) as caught:
        _clean(data, name)
    assert caught.value.params["name"] == name


def test_too_large_is_refused_without_reading_it_all():
    stream = io.BytesIO(images.photo() + b"\x00" * (2 * MB))
    with pytest.raises(DomainError, match="larger than 1 MB"):
        clean_upload(stream, "grande.jpg", max_bytes=MB)
    assert stream.tell() == MB + 1


def test_a_decompression_bomb_is_refused():
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")  # 144 MP in a few kB
    assert len(out.getvalue()) < 100_000
    with pytest.raises(DomainError, match="too many pixels"):
        _clean(out.getvalue(), "bomba.png")


def test_the_same_photo_twice_is_one_attachment(db, make_incident, make_user, tmp_path):
    incident = make_incident()
    staff = make_user(Role.STAFF)
    photo = _clean(images.photo())
    incident_files.add_attachments(
        db, incident.id, [photo], uploader_id=staff.id, storage_root=tmp_path
    )
    incident_files.add_attachments(
        db, incident.id, [photo], uploader_id=staff.id, storage_root=tmp_path
    )
    count = db.scalar(
        select(func.count(IncidentAttachment.id)).where(
            IncidentAttachment.incident_id == incident.id
        )
    )
    assert count == 1


def test_at_most_eight_files(db, make_incident, make_user, tmp_path):
    incident = make_incident()
    files = [_clean(images.photo(color=(i, 10, 10))) for i in range(9)]
    with pytest.raises(DomainError, match="at most 8"):
        incident_files.add_attachments(
            db, incident.id, files, uploader_id=make_user().id, storage_root=tmp_path
        )
    assert not list(tmp_path.iterdir())
