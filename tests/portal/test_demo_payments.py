from sqlalchemy import func, select

from portal.demo import seed_demo
from portal.demo_payments import seed_demo_payments
from portal.models import EntryKind, LedgerEntry, PaymentIntent, PaymentMethod, PaymentStatus
from portal.services.identifiers import is_valid_clabe


def test_demo_payments_are_idempotent_and_consistent_with_the_ledger(db):
    seed_demo(db, vehicles=12)
    assert seed_demo_payments(db) == 0  # seed_demo already made them
    intents = db.scalars(select(PaymentIntent)).all()
    oxxo = [i for i in intents if i.method == PaymentMethod.OXXO]
    spei = [i for i in intents if i.method == PaymentMethod.SPEI]
    assert len(oxxo) == 3
    assert all(i.status == PaymentStatus.PENDING for i in oxxo)
    assert all(len(i.reference) == 14 and i.expires_at for i in oxxo)
    assert len(spei) == 3
    assert all(i.status == PaymentStatus.PAID for i in spei)
    assert all(is_valid_clabe(i.clabe) for i in spei)
    payments = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.PAYMENT)).all()
    # The ledger's demo history posts its own payments ("demo:payment:…"); these are ours.
    ours = {p.idempotency_key for p in payments if p.idempotency_key.startswith("payment:")}
    assert ours == {f"payment:{i.id}" for i in spei}
    seed_demo(db, vehicles=12)
    assert db.scalar(select(func.count(PaymentIntent.id))) == 6
