from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.demo.payments import seed_demo_payments
from portal.demo.seed import DEMO_PASSWORD, seed_demo
from portal.models import (
    AuditEvent,
    Contract,
    EntryKind,
    LedgerEntry,
    PaymentIntent,
    PaymentMethod,
    PaymentStatus,
    Statement,
    WebhookEvent,
)
from portal.services.identifiers import is_valid_clabe
from portal.timeutil import local_midnight

TODAY = date(2026, 11, 25)  # a Wednesday


def _today_intents(db):
    """The few intents of today that `seed_demo_payments` makes (not the history's)."""
    return db.scalars(
        select(PaymentIntent).where(
            PaymentIntent.idempotency_key.like("demo:oxxo:%")
            | PaymentIntent.idempotency_key.like("demo:spei:%")
        )
    ).all()


def test_demo_payments_are_idempotent_and_consistent_with_the_ledger(db):
    seed_demo(db, vehicles=12)
    assert seed_demo_payments(db) == 0  # seed_demo already made them
    intents = _today_intents(db)
    oxxo = [i for i in intents if i.method == PaymentMethod.OXXO]
    spei = [i for i in intents if i.method == PaymentMethod.SPEI]
    assert len(oxxo) == 3
    assert all(i.status == PaymentStatus.PENDING for i in oxxo)
    assert all(len(i.reference) == 14 and i.expires_at for i in oxxo)
    assert len(spei) == 3
    assert all(i.status == PaymentStatus.PAID for i in spei)
    assert all(is_valid_clabe(i.clabe) for i in spei)
    entries = {e.id: e for e in db.scalars(select(LedgerEntry))}
    assert all(entries[i.ledger_entry_id].idempotency_key == f"payment:{i.id}" for i in spei)
    seed_demo(db, vehicles=12)
    assert len(_today_intents(db)) == 6


def _books(db):
    return (
        db.scalar(select(func.count(PaymentIntent.id))),
        db.scalar(select(func.count(WebhookEvent.id))),
        db.scalar(select(func.count(LedgerEntry.id))),
        db.scalar(select(func.sum(LedgerEntry.amount_cents))),
        db.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "payment.cash_recorded")
        ),
    )


def test_the_history_pays_through_intents_one_ledger_credit_each(db):
    seed_demo(db, vehicles=40, today=TODAY)
    books = _books(db)
    seed_demo(db, vehicles=40, today=TODAY)
    assert _books(db) == books  # twice changes nothing

    payments = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.PAYMENT)).all()
    paid = db.scalars(select(PaymentIntent).where(PaymentIntent.status == PaymentStatus.PAID)).all()
    # Every payment in the books is a paid intent's one credit, and the other way round.
    assert sorted(e.id for e in payments) == sorted(i.ledger_entry_id for i in paid)
    by_id = {e.id: e for e in payments}
    assert all(by_id[i.ledger_entry_id].idempotency_key == f"payment:{i.id}" for i in paid)
    assert all(-by_id[i.ledger_entry_id].amount_cents == i.amount_cents for i in paid)
    # posted when paid (a provider reports whole seconds)
    assert all(
        abs(by_id[i.ledger_entry_id].posted_at - i.paid_at) < timedelta(seconds=1) for i in paid
    )

    # A realistic mix: transfers, OXXO, cash at the depot, cards.
    methods = Counter(i.method for i in paid)
    assert set(methods) == set(PaymentMethod)
    assert methods[PaymentMethod.SPEI] > methods[PaymentMethod.CARD]
    # Providers' payments were reported by their (stored) webhook event; cash by a cashier.
    applied = set(
        db.scalars(select(WebhookEvent.intent_id).where(WebhookEvent.result == "applied"))
    )
    assert {i.id for i in paid if i.method != PaymentMethod.CASH} == applied
    cash = [i for i in paid if i.method == PaymentMethod.CASH]
    assert all(i.receipt_number and i.recorded_by_id for i in cash)
    assert all(i.created_at <= i.paid_at + timedelta(seconds=1) for i in paid)
    assert all(
        i.amount_cents <= 1_000_000 for i in paid if i.method == PaymentMethod.OXXO
    )  # OXXO's limit per reference


def test_my_payments_show_the_payments_of_the_statements(db, client, login):
    seed_demo(db, vehicles=12, today=TODAY)
    contract = db.scalar(select(Contract).order_by(Contract.id))
    statements = db.scalars(select(Statement).where(Statement.contract_id == contract.id)).all()
    start = local_midnight(min(s.week_start for s in statements))
    end = local_midnight(max(s.week_start for s in statements) + timedelta(weeks=1))
    in_statements = -sum(s.payments_cents for s in statements)
    paid = db.scalars(
        select(PaymentIntent).where(
            PaymentIntent.driver_id == contract.driver_id,
            PaymentIntent.status == PaymentStatus.PAID,
            PaymentIntent.paid_at >= start,
            PaymentIntent.paid_at < end,
        )
    ).all()
    assert in_statements > 0
    assert sum(i.amount_cents for i in paid) == in_statements
    login(contract.driver.user, DEMO_PASSWORD)
    page = client.get("/conductor/pagos").text
    for intent in paid:
        assert f"/conductor/pagos/{intent.id}" in page
