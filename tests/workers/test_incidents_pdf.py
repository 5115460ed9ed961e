"""The insurer's PDF: rendered by a job on the `statements` queue, stored by checksum."""

import io
import os
import subprocess

from rq import Queue, SimpleWorker

from portal.models import EventKind, Role
from portal.services import storage
from portal.services.incidents import attachments as incident_files
from portal.services.incidents import reads as incident_reads
from portal.services.uploads import clean_upload
from tests import images
from workers.incidents import render_incident_pdf_job


def _work(app, connection):
    with app.app_context():
        SimpleWorker([Queue("statements", connection=connection)], connection=connection).work(
            burst=True
        )


def test_the_pdf_job_renders_and_stores_the_report(
    app, db, redis_queues, make_incident, make_user, incident_storage, tmp_path
):
    incident = make_incident(
        insurer="Qualitas",
        claim_number="04-7788990-1",
        adjuster="Ing. Rocha",
        workshop="Taller Sur",
    )
    staff = make_user(Role.STAFF)
    photos = [
        clean_upload(io.BytesIO(images.photo(color=(c, 90, 90))), f"{c}.jpg", max_bytes=10**7)
        for c in (10, 200)
    ]
    incident_files.add_attachments(
        db, incident.id, photos, uploader_id=staff.id, storage_root=incident_storage
    )
    db.commit()  # the job reads what was committed (inside the test's outer transaction)

    queued = render_incident_pdf_job.delay(incident.id)
    assert queued.origin == "statements"
    _work(app, redis_queues)
    queued.refresh()
    assert queued.get_status() == "finished", queued.exc_info

    db.expire_all()
    incident = incident_reads.get_incident(db, incident.id)
    assert incident.report_sha256 == queued.return_value()
    pdf = storage.read_blob(incident_storage, incident.report_sha256)
    assert pdf.startswith(b"%PDF")
    assert storage.checksum(pdf) == incident.report_sha256
    assert incident.report_bytes == len(pdf)
    assert incident.events[-1].kind == EventKind.REPORT_RENDERED

    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    if os.environ.get("KEEP_INCIDENT_PDF"):  # to look at it: pdftoppm -png -r 70
        path.with_name("incident-report.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert f"Reporte de incidente {incident.number}" in text
    assert "04-7788990-1" in text
    assert "Qualitas" in text
    assert incident.vehicle.plate in text
    assert "Foto 2" in text  # both photos are in it
    images_in_pdf = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, check=True, text=True
    ).stdout
    assert len(images_in_pdf.strip().splitlines()) - 2 == 2


def test_staff_ask_for_the_pdf_and_download_it(
    app, client, db, redis_queues, login, make_user, make_incident, incident_storage
):
    incident = make_incident(claim_number="X-1")
    login(make_user(Role.STAFF))
    url = f"/operacion/incidentes/{incident.id}/reporte"
    response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Preparando el PDF" in response.text
    assert 'hx-trigger="every 2s"' in response.text  # the block polls until it is ready
    assert Queue("statements", connection=redis_queues).count == 1

    _work(app, redis_queues)
    poll = client.get(url, headers={"HX-Request": "true"})
    assert "Descargar PDF" in poll.text
    assert "every 2s" not in poll.text
    download = client.get(f"{url}.pdf")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.data.startswith(b"%PDF")
    download.close()
