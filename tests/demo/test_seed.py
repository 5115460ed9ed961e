from sqlalchemy import func, select

from portal.demo.seed import seed_demo
from portal.models import Contract, DepotTariff, Driver, Vehicle
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
    # Each depot has its CFE tariff once, so the smart-charging and bill pages work.
    tariffs = db.scalars(select(DepotTariff)).all()
    assert len(tariffs) == 3
    assert {t.kind.value for t in tariffs} == {"GDMTH"}


def test_seed_grows_to_more_vehicles(db):
    seed_demo(db, vehicles=10)
    summary = seed_demo(db, vehicles=25)
    assert summary.vehicles == 25
    assert db.scalar(select(func.count(Contract.id))) == summary.contracts


def test_the_demo_has_credit_applications_in_every_state_and_a_synthetic_model(db, clock):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from portal.demo.seed import seed_demo
    from portal.models import ApplicationStatus, CreditApplication, ModelVersion

    # The borderline applicants' earnings end the day before the seed's date, so which of
    # them the policy refers moves with the weekday: the test pins one (a Sunday noon).
    clock.pin(datetime(2026, 12, 6, 18, 0, tzinfo=UTC))
    seed_demo(db, vehicles=12)
    seed_demo(db, vehicles=12)  # idempotent
    statuses = set(db.scalars(select(CreditApplication.status)))
    assert statuses == set(ApplicationStatus)
    (model,) = db.scalars(select(ModelVersion)).all()
    assert model.active
    assert model.synthetic


def test_demo_bookings_are_made_once_and_leave_the_first_driver_free(db, clock):
    from datetime import UTC, date, datetime

    from portal.demo.bookings import seed_bookings
    from portal.models import Booking, ContractStatus, User

    # Seeded at 09:00 in Mexico City (the seed books "today, soon" and tomorrow morning:
    # at another hour of the day it books other slots).
    morning = clock.pin(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    seed_demo(db, vehicles=30, today=date(2026, 3, 10))
    count = db.scalar(select(func.count(Booking.id)))
    assert count > 0
    assert seed_bookings(db, now=morning) == 0
    assert db.scalar(select(func.count(Booking.id))) == count
    first_driver = db.scalar(
        select(Driver.id)
        .join(User, User.id == Driver.user_id)
        .join(Contract, Contract.driver_id == Driver.id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(User.id)
        .limit(1)
    )
    assert db.scalar(select(Booking.id).where(Booking.driver_id == first_driver)) is None
