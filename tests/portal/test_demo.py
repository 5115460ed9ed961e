from sqlalchemy import func, select

from portal.demo import seed_demo
from portal.models import Contract, Driver, Vehicle
from portal.services.identifiers import is_valid_curp, rfc_check_ok


def test_seed_is_idempotent_and_realistic(db):
    first = seed_demo(db, vehicles=30)
    again = seed_demo(db, vehicles=30)
    assert first == again
    assert first.depots == 3
    assert first.vehicles == 30
    assert first.drivers == 40
    assert 0 < first.contracts <= 30
    curps = db.scalars(select(Driver.curp)).all()
    assert all(is_valid_curp(c) for c in curps)
    assert all(rfc_check_ok(r) for r in db.scalars(select(Driver.rfc)))
    assert {m for (m,) in db.execute(select(Vehicle.model).distinct())} == {"Dolphin Mini", "E10X"}


def test_seed_grows_to_more_vehicles(db):
    seed_demo(db, vehicles=10)
    summary = seed_demo(db, vehicles=25)
    assert summary.vehicles == 25
    assert db.scalar(select(func.count(Contract.id))) == summary.contracts


def test_the_demo_has_credit_applications_in_every_state_and_a_synthetic_model(db):
    from sqlalchemy import select

    from portal.demo import seed_demo
    from portal.models import ApplicationStatus, CreditApplication, ModelVersion

    seed_demo(db, vehicles=12)
    seed_demo(db, vehicles=12)  # idempotent
    statuses = set(db.scalars(select(CreditApplication.status)))
    assert statuses == set(ApplicationStatus)
    (model,) = db.scalars(select(ModelVersion)).all()
    assert model.active
    assert model.synthetic
