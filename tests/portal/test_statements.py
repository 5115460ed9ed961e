"""Closing a week into a statement: the figures, idempotency, immutability."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.models import EntryKind, LedgerEntry, Role, Statement
from portal.services import DomainError
from portal.services.billing import post_weekly_rent
from portal.services.ledger import driver_balance, post_entry, reverse_entry
from portal.services.statements import (
    account_summary,
    close_statement,
    close_statements,
    statement_entries,
)
from portal.timeutil import local_midnight, local_today, monday_of

MONDAY = date(2026, 11, 9)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _post(db, contract, kind, cents, at, key, **kw):
    return post_entry(
        db,
        driver_id=contract.driver_id,
        contract_id=contract.id,
        kind=kind,
        amount_cents=cents,
        idempotency_key=key,
        description=kw.pop("description", kind.value),
        posted_at=at,
        **kw,
    )


@pytest.fixture
def contract(make_contract):
    return make_contract(starts_on=MONDAY - timedelta(weeks=1), grace_days=2)


def test_a_statement_adds_up_the_week(db, contract):
    post_weekly_rent(db, MONDAY - timedelta(weeks=1), now=NOW)  # last week, unpaid
    post_weekly_rent(db, MONDAY, now=NOW)
    week = local_midnight(MONDAY)
    _post(db, contract, EntryKind.ENERGY, 12_550, week + timedelta(days=1), "e1")
    _post(db, contract, EntryKind.FINE, 150_000, week + timedelta(days=2), "f1", reference="A1")
    _post(db, contract, EntryKind.PAYMENT, -500_000, week + timedelta(days=3), "p1")
    # Sunday 23:59 local is in the week; Monday 00:00 is the next one.
    _post(db, contract, EntryKind.TOLL, 4_500, week + timedelta(days=7, seconds=-1), "t1")
    _post(db, contract, EntryKind.TOLL, 9_900, week + timedelta(days=7), "t2")

    s = close_statement(db, contract.id, MONDAY, now=NOW)
    assert s.week_start == MONDAY
    assert s.week_end == date(2026, 11, 15)
    assert s.opening_balance_cents == 350_000
    assert s.charges_cents == 350_000 + 12_550 + 150_000 + 4_500
    assert s.credits_cents == s.payments_cents == -500_000
    assert s.closing_balance_cents == 350_000 + 517_050 - 500_000
    assert s.totals_by_kind == {
        "rent": 350_000,
        "energy": 12_550,
        "fine": 150_000,
        "payment": -500_000,
        "toll": 4_500,
    }
    assert s.entry_count == 5
    assert [e.idempotency_key for e in statement_entries(db, s)][-1] == "t1"
    assert s.closing_balance_cents == driver_balance(
        db, contract.driver_id, as_of=local_midnight(MONDAY + timedelta(days=7))
    )
    assert s.due_on == date(2026, 11, 11)
    # The payment covered last week's rent, not this week's (oldest first): this
    # week's rent fell due on Wednesday 11th, and Sunday 15th is 4 days on.
    assert s.days_late == 4
    assert s.weeks_paid == 1
    assert s.term_weeks == 156


def test_closing_twice_changes_nothing_and_later_entries_do_not_touch_it(db, contract):
    post_weekly_rent(db, MONDAY, now=NOW)
    first = close_statement(db, contract.id, MONDAY, now=NOW)
    figures = (first.id, first.closing_balance_cents, first.closed_at)
    _post(db, contract, EntryKind.PAYMENT, -350_000, NOW, "p-late")
    assert close_statements(db, MONDAY, now=NOW) == []
    again = close_statement(db, contract.id, MONDAY, now=NOW)
    db.refresh(again)
    assert (again.id, again.closing_balance_cents, again.closed_at) == figures
    assert db.scalar(select(func.count(Statement.id))) == 1


def test_close_statements_closes_every_running_contract_once(db, make_contract, contract):
    other = make_contract(starts_on=MONDAY - timedelta(weeks=30))
    make_contract(starts_on=MONDAY + timedelta(weeks=1))  # not started that week
    ids = close_statements(db, MONDAY, now=NOW)
    assert len(ids) == 2
    contracts = set(db.scalars(select(Statement.contract_id)))
    assert contracts == {contract.id, other.id}
    assert close_statements(db, MONDAY, now=NOW) == []


def test_a_week_that_has_not_ended_cannot_be_closed(db, contract):
    with pytest.raises(DomainError, match="has not ended"):
        close_statement(db, contract.id, MONDAY, now=local_midnight(MONDAY) + timedelta(days=6))


def test_a_reversed_rent_is_not_a_week_paid(db, make_contract, make_user):
    this_monday = monday_of(local_today())  # reversals are posted now
    contract = make_contract(starts_on=this_monday - timedelta(weeks=2))
    post_weekly_rent(db, this_monday)
    rent = db.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.RENT))
    manager = make_user(Role.MANAGER)
    reverse_entry(db, rent.id, reason="Renta duplicada por error", actor_id=manager.id)
    s = close_statement(
        db, contract.id, this_monday, now=local_midnight(this_monday + timedelta(days=7))
    )
    assert s.weeks_paid == 0
    assert s.days_late == 0
    assert s.charges_cents == 350_000
    assert s.closing_balance_cents == 0


def test_account_summary_says_late_or_in_favour(db, contract):
    post_weekly_rent(db, MONDAY, now=NOW)
    summary = account_summary(db, contract.driver_id, contract, MONDAY + timedelta(days=5))
    assert summary.balance_cents == 350_000
    assert summary.next_due_on == date(2026, 11, 11)
    assert summary.days_late == 3
    assert summary.state == "late"
    _post(db, contract, EntryKind.PAYMENT, -400_000, NOW, "p1")
    summary = account_summary(db, contract.driver_id, contract, MONDAY + timedelta(days=5))
    assert summary.balance_cents == -50_000
    assert summary.state == "credit"
    assert summary.next_due_on == date(2026, 11, 18)  # next Monday + 2 grace days
