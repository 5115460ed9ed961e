"""Demo payments: a few pending OXXO references and paid SPEI transfers, issued by the
labelled demonstration provider. Deterministic and idempotent; every paid intent
posts its own ledger payment (`payment:<intent id>`), so the books stay consistent
with whatever rent history the rest of the demo seeds. No Flask here."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Contract, ContractStatus, PaymentIntent, PaymentMethod, PaymentStatus
from portal.payments.base import ChargeRequest, SpeiAccount, oxxo_expiry
from portal.payments.demo import DemoClient
from portal.services.payments import advance, ensure_spei_account, payer_for

DEMO_CONTACT = "cobranza@lafa.mx"


def seed_demo_payments(session: Session, now: datetime | None = None) -> int:
    """Pending OXXO references for 3 drivers, a paid SPEI rent for 3 more. Returns how
    many intents it created (0 the second time)."""
    now = now or datetime.now(UTC)
    client = DemoClient(now=now)
    contracts = session.scalars(
        select(Contract)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(Contract.id)
        .limit(6)
    ).all()
    created = 0
    for n, contract in enumerate(contracts):
        driver = contract.driver
        method = PaymentMethod.OXXO if n < 3 else PaymentMethod.SPEI
        key = f"demo:{method}:{driver.id}"
        if session.scalar(select(PaymentIntent.id).where(PaymentIntent.idempotency_key == key)):
            continue
        request = ChargeRequest(
            payer_for(driver, DEMO_CONTACT),
            contract.weekly_rent_cents,
            key,
            "Renta LAFA",
            expires_at=oxxo_expiry(3, now) if method == PaymentMethod.OXXO else None,
        )
        if method == PaymentMethod.OXXO:
            charge = client.create_oxxo(request)
        else:
            account = ensure_spei_account(session, driver, client, DEMO_CONTACT)
            charge = client.create_spei(
                request, SpeiAccount(account.provider_customer_id, account.clabe, account.bank_name)
            )
        intent = PaymentIntent(
            driver_id=driver.id,
            provider=client.provider,
            method=method,
            amount_cents=contract.weekly_rent_cents,
            provider_payment_id=charge.provider_payment_id,
            provider_customer_id=charge.customer_id,
            reference=charge.reference,
            clabe=charge.clabe,
            expires_at=charge.expires_at,
            idempotency_key=key,
        )
        session.add(intent)
        session.flush()
        if method == PaymentMethod.SPEI:
            advance(session, intent, PaymentStatus.PAID, now=now)
        created += 1
    session.flush()
    return created
