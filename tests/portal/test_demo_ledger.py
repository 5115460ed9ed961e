from datetime import date

from sqlalchemy import func, select

from portal.demo import seed_demo
from portal.models import Contract, Driver, EntryKind, LedgerEntry, Statement
from portal.services.identifiers import is_valid_clabe

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
    assert all(is_valid_clabe(c) for c in db.scalars(select(Driver.spei_clabe)))
    assert all(c.startswith("646") for c in db.scalars(select(Driver.spei_clabe)))
