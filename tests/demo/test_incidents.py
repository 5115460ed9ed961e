"""The demo incidents: every state of the workflow, photos on disk, seeded once."""

from sqlalchemy import func, select

from portal.demo.incidents import DEMO, demo_photo
from portal.demo.seed import seed_demo
from portal.models import Incident, IncidentStatus, LedgerEntry, VehicleStatus
from portal.services import storage


def test_demo_incidents_cover_the_workflow_and_are_seeded_once(db, tmp_path):
    seed_demo(db, vehicles=20, incident_storage=tmp_path)
    seed_demo(db, vehicles=20, incident_storage=tmp_path)
    found = list(db.scalars(select(Incident).order_by(Incident.id)))
    assert len(found) == len(DEMO)
    assert {i.status for i in found} == {
        IncidentStatus.REPORTED,
        IncidentStatus.IN_REVIEW,
        IncidentStatus.CLAIM_FILED,
        IncidentStatus.IN_REPAIR,
        IncidentStatus.CLOSED,
        IncidentStatus.REJECTED,
    }
    in_repair = next(i for i in found if i.status == IncidentStatus.IN_REPAIR)
    assert in_repair.vehicle.status == VehicleStatus.IN_REPAIR
    for incident in found:
        times = [e.at for e in incident.events]
        assert times == sorted(times)
        for attachment in incident.attachments:
            assert storage.blob_path(tmp_path, attachment.sha256).exists()
    assert (
        db.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.source_type == "incident"))
        == 1
    )


def test_demo_photos_are_deterministic():
    assert demo_photo((10, 20, 30), 4) == demo_photo((10, 20, 30), 4)
    assert demo_photo((10, 20, 30), 4) != demo_photo((10, 20, 30), 5)
