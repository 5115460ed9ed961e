from datetime import date

from sqlalchemy import func, select

from portal.demo.seed import seed_demo
from portal.models import (
    Contract,
    ContractStatus,
    EntryKind,
    LedgerEntry,
    PaymentAccount,
    PaymentProvider,
    Statement,
)
from portal.services.identifiers import is_valid_clabe
from portal.services.payments import get_driver_clabe

TODAY = date(2026, 11, 25)  # a Wednesday


def _counts(db):
    return (
        db.scalar(select(func.count(LedgerEntry.id))),
        db.scalar(select(func.count(Statement.id))),
        db.scalar(select(func.sum(LedgerEntry.amount_cents))),
    )


def test_demo_history_is_idempotent_with_twelve_closed_weeks(db):
    seed_demo(db, vehicles=40, today=TODAY)
    first = _counts(db)
    seed_demo(db, vehicles=40, today=TODAY)
    assert _counts(db) == first
    weeks = db.scalars(select(Statement.week_start).distinct().order_by(Statement.week_start))
    weeks = list(weeks)
    assert len(weeks) == 12
    assert weeks[-1] == date(2026, 11, 16)  # last week is closed, this week is open
    kinds = set(db.scalars(select(LedgerEntry.kind).distinct()))
    assert {EntryKind.RENT, EntryKind.ENERGY, EntryKind.PAYMENT, EntryKind.LATE_FEE} <= kinds
    fines = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.FINE)).all()
    assert all(f.reference for f in fines)
    contracts = db.scalar(select(func.count(Contract.id)))
    late = db.scalar(
        select(func.count(func.distinct(Statement.driver_id))).where(
            Statement.week_start == weeks[-1], Statement.days_late > 0
        )
    )
    assert 0 < late < contracts / 2  # some drivers late, most on time


def test_every_driver_with_a_contract_has_the_clabe_the_provider_issued(db):
    seed_demo(db, vehicles=40, today=TODAY)
    accounts = db.scalars(select(PaymentAccount)).all()
    with_contract = set(
        db.scalars(select(Contract.driver_id).where(Contract.status == ContractStatus.ACTIVE))
    )
    assert {a.driver_id for a in accounts} == with_contract  # one each
    assert all(a.provider == PaymentProvider.DEMO for a in accounts)
    assert all(is_valid_clabe(a.clabe) and a.clabe.startswith("646") for a in accounts)
    driver_id = min(with_contract)
    assert get_driver_clabe(db, driver_id) == next(
        a.clabe for a in accounts if a.driver_id == driver_id
    )
