"""A contract's life: proposal, sign-off, signature and deposit, handover confirmed by
the driver, rent from the start, swap, suspension, early termination, completion."""

import io
from datetime import timedelta

import pytest

from portal.db import utcnow
from portal.models import (
    ContractStatus,
    DriverStatus,
    EntryKind,
    IdTag,
    Incident,
    LedgerEntry,
    Role,
    VehicleState,
    VehicleStatus,
)
from portal.services import DomainError, FieldError, NotAllowed, drivers, ledger
from portal.services.contracts import checklists, ending, reads, running, signing
from portal.services.uploads import clean_upload
from portal.timeutil import local_today, monday_of
from tests import images

TODAY = local_today()
CS = ContractStatus


@pytest.fixture
def people(db, make_user):
    return make_user(Role.STAFF), make_user(Role.MANAGER)


@pytest.fixture
def new_driver(db, people, approved_application):
    staff, _ = people
    return drivers.create_from_application(
        db, approved_application(), actor_id=staff.id, today=TODAY
    )


def _terms(**kw):
    values = {
        "weekly_rent_cents": 350_000,
        "deposit_cents": 700_000,
        "term_weeks": 156,
        "starts_on": TODAY,
    }
    return signing.Terms(**(values | kw))


def _entries(db, driver, kind=None):
    query = db.query(LedgerEntry).filter_by(driver_id=driver.id)
    if kind:
        query = query.filter_by(kind=kind)
    return query.all()


def _photo():
    return clean_upload(io.BytesIO(images.photo()), "auto.jpg", max_bytes=10_000_000)


def _signed(db, people, driver, car, **terms):
    staff, manager = people
    contract = signing.propose(db, driver, car, _terms(**terms), actor_id=staff.id, today=TODAY)
    signing.sign_off(db, contract, actor=manager)
    signing.sign(db, contract, actor_id=staff.id)
    return contract


def _active(db, people, driver, car, tmp_path, **terms):
    staff, _ = people
    contract = _signed(db, people, driver, car, **terms)
    checklists.record_handover(
        db, contract, checklists.ChecklistData(1200, 90), actor_id=staff.id, storage_root=tmp_path
    )
    checklists.confirm_handover(db, contract, driver_user=driver.user, today=TODAY)
    return contract


def test_the_decisions_terms_need_no_sign_off(db, people, new_driver, make_vehicle):
    staff, _ = people
    car = make_vehicle()
    terms = signing.proposed_terms(db, new_driver, TODAY)
    assert (terms.weekly_rent_cents, terms.deposit_cents, terms.term_weeks) == (
        350_000,
        700_000,
        156,
    )
    contract = signing.propose(db, new_driver, car, terms, actor_id=staff.id, today=TODAY)
    assert contract.needs_signoff is False
    assert contract.number.startswith(f"LAFA-{TODAY.year}-")
    signing.sign(db, contract, actor_id=staff.id)
    assert contract.status == CS.SIGNED
    assert car.status == VehicleStatus.LEASED
    (deposit,) = _entries(db, new_driver, EntryKind.SECURITY_DEPOSIT)
    assert deposit.amount_cents == 700_000


def test_other_terms_wait_for_a_managers_sign_off(db, people, new_driver, make_vehicle):
    staff, manager = people
    contract = signing.propose(
        db,
        new_driver,
        make_vehicle(),
        _terms(weekly_rent_cents=300_000),
        actor_id=staff.id,
        today=TODAY,
    )
    assert contract.needs_signoff
    with pytest.raises(DomainError, match="manager"):
        signing.sign(db, contract, actor_id=staff.id)
    with pytest.raises(NotAllowed):
        signing.sign_off(db, contract, actor=staff)
    signing.sign_off(db, contract, actor=manager)
    signing.sign(db, contract, actor_id=staff.id)
    assert contract.status == CS.SIGNED


@pytest.mark.parametrize(
    "status",
    [
        VehicleStatus.LEASED,
        VehicleStatus.IN_REPAIR,
        VehicleStatus.WRITTEN_OFF,
        VehicleStatus.IN_PREPARATION,
    ],
)
def test_a_car_that_is_not_available_is_refused(db, people, new_driver, make_vehicle, status):
    with pytest.raises(FieldError) as error:
        signing.propose(
            db,
            new_driver,
            make_vehicle(status=status),
            _terms(),
            actor_id=people[0].id,
            today=TODAY,
        )
    assert error.value.field == "vehicle_id"


def test_a_driver_with_a_running_contract_gets_no_second(db, people, make_contract, make_vehicle):
    running = make_contract()
    with pytest.raises(DomainError, match="already"):
        signing.propose(
            db, running.driver, make_vehicle(), _terms(), actor_id=people[0].id, today=TODAY
        )


def test_the_handover_starts_from_the_trackers_reading(db, make_vehicle):
    car = make_vehicle()
    now = utcnow()
    db.add(
        VehicleState(
            vehicle_id=car.id,
            imei=car.tracker_imei,
            device_time=now,
            received_at=now,
            latitude=19.48,
            longitude=-99.15,
            angle=0,
            satellites=9,
            speed=0,
            position_valid=True,
            last_record={},
            odometer_m=1_234_567,
            soc_pct=87,
        )
    )
    db.flush()
    defaults = checklists.handover_defaults(db, car.id)
    assert (defaults.odometer_km, defaults.soc_pct) == (1234, 87)


def test_handover_confirmed_on_the_phone_activates_and_charges_rent(
    db, people, new_driver, make_vehicle, tmp_path
):
    staff, _ = people
    contract = _signed(db, people, new_driver, make_vehicle(), starts_on=TODAY)
    with pytest.raises(DomainError, match="recorded"):
        checklists.confirm_handover(db, contract, driver_user=new_driver.user, today=TODAY)
    checklist = checklists.record_handover(
        db,
        contract,
        checklists.ChecklistData(1200, 90, "rayón en la defensa", "CARD0042", photos=[_photo()]),
        actor_id=staff.id,
        storage_root=tmp_path,
    )
    assert len(checklist.photos) == 1
    assert (tmp_path / checklist.photos[0]["sha256"][:2]).exists()
    assert db.query(IdTag).filter_by(tag="CARD0042", driver_id=new_driver.id).count() == 1
    checklists.confirm_handover(db, contract, driver_user=new_driver.user, today=TODAY)
    assert contract.status == CS.ACTIVE
    assert checklist.confirmed_at is not None
    (rent,) = _entries(db, new_driver, EntryKind.RENT)
    assert rent.idempotency_key == f"rent:{contract.id}:{monday_of(TODAY).isoformat()}"
    actions = [e.action for e in reads.timeline(db, contract.id)]
    assert actions == [
        "contract.proposed",  # the decision's terms: no sign-off needed
        "contract.signed",
        "contract.handover_recorded",
        "contract.handover_confirmed",
    ]


def test_only_the_contracts_driver_confirms(
    db, people, new_driver, make_vehicle, make_driver, tmp_path
):
    staff, _ = people
    contract = _signed(db, people, new_driver, make_vehicle())
    checklists.record_handover(
        db, contract, checklists.ChecklistData(5, 80), actor_id=staff.id, storage_root=tmp_path
    )
    with pytest.raises(NotAllowed):
        checklists.confirm_handover(db, contract, driver_user=make_driver().user, today=TODAY)


def test_a_replacement_while_the_car_is_in_repair(db, people, new_driver, make_vehicle, tmp_path):
    staff, _ = people
    own, spare = make_vehicle(), make_vehicle()
    contract = _active(db, people, new_driver, own, tmp_path)
    with pytest.raises(DomainError, match="repair"):
        running.swap_vehicle(db, contract, spare, actor_id=staff.id, reason="taller por choque")
    own.status = VehicleStatus.IN_REPAIR
    running.swap_vehicle(db, contract, spare, actor_id=staff.id, reason="taller por choque")
    assert (contract.vehicle_id, contract.own_vehicle_id) == (spare.id, own.id)
    assert spare.status == VehicleStatus.LEASED
    with pytest.raises(DomainError, match="not back"):
        running.return_own_vehicle(db, contract, actor_id=staff.id)
    own.status = VehicleStatus.AVAILABLE
    running.return_own_vehicle(db, contract, actor_id=staff.id)
    assert (contract.vehicle_id, contract.own_vehicle_id) == (own.id, None)
    assert (own.status, spare.status) == (VehicleStatus.LEASED, VehicleStatus.AVAILABLE)


def test_suspend_and_resume(db, people, new_driver, make_vehicle, tmp_path):
    staff, _ = people
    contract = _active(db, people, new_driver, make_vehicle(), tmp_path)
    running.suspend(db, contract, actor_id=staff.id, reason="investigación de robo")
    assert contract.status == CS.SUSPENDED
    running.resume(db, contract, actor_id=staff.id)
    assert contract.status == CS.ACTIVE


def test_early_termination_charges_damage_through_an_incident_and_applies_the_deposit(
    db, people, new_driver, make_vehicle, tmp_path
):
    staff, manager = people
    car = make_vehicle()
    contract = _active(db, people, new_driver, car, tmp_path)
    returned = checklists.ChecklistData(
        4800, 35, "Faro delantero roto", damage_cents=250_000, photos=[_photo()]
    )
    with pytest.raises(NotAllowed):
        ending.terminate(
            db,
            contract,
            returned,
            actor=staff,
            reason="deja de manejar",
            today=TODAY,
            storage_root=tmp_path,
        )
    checklist = ending.terminate(
        db,
        contract,
        returned,
        actor=manager,
        reason="deja de manejar",
        today=TODAY,
        storage_root=tmp_path,
    )
    assert contract.status == CS.TERMINATED
    assert contract.ended_on == TODAY
    assert car.status == VehicleStatus.IN_REPAIR
    assert new_driver.status == DriverStatus.FORMER
    incident = db.get(Incident, checklist.incident_id)
    assert incident.driver_id == new_driver.id
    (damage,) = _entries(db, new_driver, EntryKind.DAMAGE)
    assert (damage.amount_cents, damage.source_type) == (250_000, "incident")
    (applied,) = _entries(db, new_driver, EntryKind.DEPOSIT)
    assert applied.amount_cents == -700_000
    # owed: deposit 7,000 + one week 3,500 + damage 2,500 - deposit 7,000
    assert ledger.driver_balance(db, new_driver.id) == 350_000 + 250_000


def test_a_balance_in_favour_is_refunded_at_the_end(
    db, people, new_driver, make_vehicle, tmp_path, make_charge
):
    _, manager = people
    contract = _active(db, people, new_driver, make_vehicle(), tmp_path)
    make_charge(new_driver, -(700_000 + 350_000), kind=EntryKind.PAYMENT)  # paid deposit and rent
    ending.terminate(
        db,
        contract,
        checklists.ChecklistData(900, 50),
        actor=manager,
        reason="se muda de ciudad",
        today=TODAY,
        storage_root=tmp_path,
    )
    (refund,) = _entries(db, new_driver, EntryKind.ADJUSTMENT)
    assert refund.amount_cents == 700_000
    assert ledger.driver_balance(db, new_driver.id) == 0


def test_completion_transfers_the_car_once_the_term_is_over_and_paid(
    db, people, new_driver, make_vehicle, tmp_path, make_charge
):
    staff, _ = people
    car = make_vehicle()
    start = monday_of(TODAY) - timedelta(weeks=3)
    contract = _signed(db, people, new_driver, car, term_weeks=4, starts_on=TODAY)
    contract.starts_on = start  # as if it had started four weeks ago
    checklists.record_handover(
        db, contract, checklists.ChecklistData(10, 99), actor_id=staff.id, storage_root=tmp_path
    )
    checklists.confirm_handover(db, contract, driver_user=new_driver.user, today=TODAY)
    assert len(_entries(db, new_driver, EntryKind.RENT)) == 4
    with pytest.raises(DomainError, match="owes"):
        ending.complete(db, contract, actor_id=staff.id, today=TODAY)
    make_charge(new_driver, -4 * 350_000, kind=EntryKind.PAYMENT)
    ending.complete(db, contract, actor_id=staff.id, today=TODAY)
    assert contract.status == CS.COMPLETED
    assert car.status == VehicleStatus.TRANSFERRED
    # The deposit they never paid cancels the deposit charged at signature.
    (applied,) = _entries(db, new_driver, EntryKind.DEPOSIT)
    assert applied.amount_cents == -700_000
    assert ledger.driver_balance(db, new_driver.id) == 0


def test_completion_waits_for_the_last_week(db, people, new_driver, make_vehicle, tmp_path):
    contract = _active(db, people, new_driver, make_vehicle(), tmp_path)
    with pytest.raises(DomainError, match="term ends"):
        ending.complete(db, contract, actor_id=people[0].id, today=TODAY)
