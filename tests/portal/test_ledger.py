from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.models import AuditEvent, EntryKind, LedgerEntry, Role
from portal.services import DomainError
from portal.services.ledger import (
    contract_balance,
    driver_balance,
    post_entry,
    reverse_entry,
)


@pytest.fixture
def contract(make_contract):
    return make_contract()


def _rent(db, contract, key="rent:1", cents=350_000, **kw):
    return post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.RENT,
        amount_cents=cents,
        idempotency_key=key,
        description="Renta semanal",
        **kw,
    )


def test_posting_twice_under_one_key_posts_once(db, contract):
    first = _rent(db, contract)
    second = _rent(db, contract)
    assert first.id == second.id
    assert db.scalar(select(func.count(LedgerEntry.id))) == 1


def test_balance_is_the_sum_of_entries_as_of_any_moment(db, contract):
    monday = datetime(2026, 11, 16, 6, tzinfo=UTC)
    _rent(db, contract, "rent:a", posted_at=monday)
    post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.PAYMENT,
        amount_cents=-200_000,
        idempotency_key="pay:1",
        description="Pago OXXO",
        posted_at=monday + timedelta(days=2),
    )
    assert driver_balance(db, contract.driver_id) == 150_000
    assert driver_balance(db, contract.driver_id, as_of=monday + timedelta(days=1)) == 350_000
    assert driver_balance(db, contract.driver_id, as_of=monday) == 0
    assert contract_balance(db, contract) == 150_000


@pytest.mark.parametrize(
    ("kind", "cents"),
    [
        (EntryKind.RENT, 0),
        (EntryKind.RENT, -100),
        (EntryKind.PAYMENT, 100),
        (EntryKind.FINE, 100_000_001),
    ],
)
def test_bad_amounts_are_refused(db, contract, kind, cents):
    with pytest.raises(DomainError):
        post_entry(
            db,
            driver_id=contract.driver_id,
            kind=kind,
            amount_cents=cents,
            idempotency_key=f"bad:{kind}:{cents}",
            description="x",
        )


def test_the_database_itself_refuses_a_wrongly_signed_entry(db, contract):
    db.add(
        LedgerEntry(
            driver_id=contract.driver_id,
            kind=EntryKind.PAYMENT,
            amount_cents=500,
            idempotency_key="raw",
            description="x",
        )
    )
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_a_reversal_cancels_an_entry_once_and_is_audited(db, contract, make_user):
    manager = make_user(Role.MANAGER)
    fine = post_entry(
        db,
        driver_id=contract.driver_id,
        kind=EntryKind.FINE,
        amount_cents=120_000,
        idempotency_key="fine:F-1",
        description="Multa",
        reference="F-1",
    )
    reversal = reverse_entry(db, fine.id, reason="Multa duplicada", actor_id=manager.id)
    again = reverse_entry(db, fine.id, reason="Multa duplicada", actor_id=manager.id)
    assert reversal.id == again.id
    assert reversal.amount_cents == -120_000
    assert reversal.reverses_id == fine.id
    assert driver_balance(db, contract.driver_id) == 0
    assert db.scalar(select(func.count()).where(AuditEvent.action == "ledger.reversed")) == 1
    with pytest.raises(DomainError):
        reverse_entry(db, reversal.id, reason="otra vez", actor_id=manager.id)
    toll = post_entry(
        db,
        driver_id=contract.driver_id,
        kind=EntryKind.TOLL,
        amount_cents=9_000,
        idempotency_key="toll:1",
        description="Caseta",
    )
    with pytest.raises(DomainError):
        reverse_entry(db, toll.id, reason="", actor_id=manager.id)


def test_days_past_due_counts_from_the_oldest_unpaid_charge(db, contract):
    from datetime import date

    from portal.services.ledger import days_past_due

    week1 = datetime(2026, 11, 2, 6, tzinfo=UTC)  # Monday 00:00 in Mexico City
    week2 = week1 + timedelta(weeks=1)
    _rent(db, contract, "rent:w1", posted_at=week1)
    _rent(db, contract, "rent:w2", posted_at=week2)
    driver = contract.driver_id
    assert days_past_due(db, driver, date(2026, 11, 10), grace_days=2) == 6
    post_entry(
        db,
        driver_id=driver,
        kind=EntryKind.PAYMENT,
        amount_cents=-350_000,
        idempotency_key="pay:w1",
        description="Pago",
        posted_at=week2,
    )
    assert days_past_due(db, driver, date(2026, 11, 10), grace_days=2) == 0  # w2 due 11 Nov
    assert days_past_due(db, driver, date(2026, 11, 13), grace_days=2) == 2
    post_entry(
        db,
        driver_id=driver,
        kind=EntryKind.PAYMENT,
        amount_cents=-350_000,
        idempotency_key="pay:w2",
        description="Pago",
        posted_at=week2,
    )
    assert days_past_due(db, driver, date(2026, 11, 30), grace_days=2) == 0
