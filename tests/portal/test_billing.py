"""Weekly rent and late fees: exactly once per contract-week, whenever they run."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.models import ContractStatus, EntryKind, LedgerEntry
from portal.services import DomainError
from portal.services.billing import assess_late_fees, post_weekly_rent
from portal.services.ledger import driver_balance, post_entry
from portal.services.statements import close_statement
from portal.timeutil import local_midnight

MONDAY = date(2026, 11, 9)
NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)


def _entries(db, kind):
    return db.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == kind).order_by(LedgerEntry.id)
    ).all()


def _pay(db, contract, cents, at, key):
    return post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=EntryKind.PAYMENT,
        amount_cents=-cents,
        idempotency_key=key,
        description="Pago SPEI",
        posted_at=at,
    )


def test_rent_is_posted_once_per_contract_week_at_monday_midnight(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=4), weekly_rent_cents=330_000)
    assert post_weekly_rent(db, MONDAY, now=NOW) == 1
    assert post_weekly_rent(db, MONDAY, now=NOW) == 0  # the job ran twice
    (rent,) = _entries(db, EntryKind.RENT)
    assert rent.idempotency_key == f"rent:{contract.id}:2026-11-09"
    assert rent.amount_cents == 330_000
    # Monday 00:00 in Mexico City is 06:00 UTC.
    assert rent.posted_at == datetime(2026, 11, 9, 6, tzinfo=UTC)
    assert rent.description == "Renta semanal, semana 5 de 156"


def test_a_late_run_posts_for_the_intended_week(db, make_contract):
    make_contract(starts_on=MONDAY - timedelta(weeks=1))
    post_weekly_rent(db, MONDAY, now=MONDAY_PLUS(days=3))
    (rent,) = _entries(db, EntryKind.RENT)
    assert rent.posted_at == local_midnight(MONDAY)
    assert rent.idempotency_key.endswith(":2026-11-09")


def MONDAY_PLUS(**kw):
    return local_midnight(MONDAY) + timedelta(**kw)


def test_rent_for_a_closed_week_lands_in_the_open_week(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=1))
    close_statement(db, contract.id, MONDAY, now=NOW)
    post_weekly_rent(db, MONDAY, now=NOW)
    (rent,) = _entries(db, EntryKind.RENT)
    assert rent.posted_at == NOW  # not back-dated into the closed statement


def test_only_contracts_running_that_week_pay_rent(db, make_contract):
    make_contract(starts_on=MONDAY + timedelta(days=9))  # not started yet
    make_contract(starts_on=MONDAY - timedelta(weeks=10), term_weeks=10)  # term over
    make_contract(starts_on=MONDAY - timedelta(weeks=2), status=ContractStatus.TERMINATED)
    started_midweek = make_contract(starts_on=MONDAY + timedelta(days=2))
    assert post_weekly_rent(db, MONDAY, now=NOW) == 1
    assert _entries(db, EntryKind.RENT)[0].contract_id == started_midweek.id


def test_rent_weeks_start_on_monday(db):
    with pytest.raises(DomainError):
        post_weekly_rent(db, MONDAY + timedelta(days=1))


def test_an_unpaid_week_gets_one_late_fee_after_the_grace_days(db, make_contract):
    contract = make_contract(
        starts_on=MONDAY - timedelta(weeks=3), grace_days=2, late_fee_cents=25_000
    )
    post_weekly_rent(db, MONDAY, now=NOW)
    # Wednesday is the due date: not late yet.
    assert assess_late_fees(db, MONDAY + timedelta(days=2), now=NOW) == 0
    # Thursday: late, once, however often the job runs.
    assert assess_late_fees(db, MONDAY + timedelta(days=3), now=NOW) == 1
    assert assess_late_fees(db, MONDAY + timedelta(days=3), now=NOW) == 0
    assert assess_late_fees(db, MONDAY + timedelta(days=5), now=NOW) == 0
    (fee,) = _entries(db, EntryKind.LATE_FEE)
    assert fee.idempotency_key == f"late_fee:{contract.id}:2026-11-09"
    assert fee.amount_cents == 25_000
    assert fee.posted_at == local_midnight(MONDAY + timedelta(days=3))
    assert driver_balance(db, contract.driver_id) == 350_000 + 25_000


def test_a_week_paid_on_time_has_no_late_fee(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=3), grace_days=2)
    post_weekly_rent(db, MONDAY, now=NOW)
    _pay(db, contract, 350_000, MONDAY_PLUS(days=2, hours=12), "pay:1")
    assert assess_late_fees(db, MONDAY + timedelta(days=4), now=NOW) == 0


def test_a_payment_after_the_due_date_does_not_undo_the_fee(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=3), grace_days=2)
    post_weekly_rent(db, MONDAY, now=NOW)
    _pay(db, contract, 350_000, MONDAY_PLUS(days=3, hours=10), "pay:late")  # Thursday 10:00
    # The Thursday run sees the ledger as it stood at Thursday 00:00: still unpaid.
    assert assess_late_fees(db, MONDAY + timedelta(days=3), now=NOW) == 1


def test_each_late_week_has_its_own_fee(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=3), grace_days=1)
    post_weekly_rent(db, MONDAY, now=NOW)
    post_weekly_rent(db, MONDAY + timedelta(weeks=1), now=NOW)
    assert assess_late_fees(db, MONDAY + timedelta(days=10), now=NOW) == 2
    keys = {f.idempotency_key for f in _entries(db, EntryKind.LATE_FEE)}
    assert keys == {
        f"late_fee:{contract.id}:2026-11-09",
        f"late_fee:{contract.id}:2026-11-16",
    }


def test_partial_payment_pays_the_oldest_week_first(db, make_contract):
    contract = make_contract(starts_on=MONDAY - timedelta(weeks=3), grace_days=1)
    post_weekly_rent(db, MONDAY, now=NOW)
    post_weekly_rent(db, MONDAY + timedelta(weeks=1), now=NOW)
    _pay(db, contract, 350_000, MONDAY_PLUS(hours=12), "pay:1")  # covers week 1
    assert assess_late_fees(db, MONDAY + timedelta(days=10), now=NOW) == 1
    (fee,) = _entries(db, EntryKind.LATE_FEE)
    assert fee.idempotency_key.endswith(":2026-11-16")


def test_contracts_without_a_late_fee_are_not_charged(db, make_contract):
    make_contract(starts_on=MONDAY - timedelta(weeks=3), late_fee_cents=0)
    post_weekly_rent(db, MONDAY, now=NOW)
    assert assess_late_fees(db, MONDAY + timedelta(days=6), now=NOW) == 0
    assert db.scalar(select(func.count(LedgerEntry.id))) == 1
