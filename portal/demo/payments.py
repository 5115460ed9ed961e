"""Demo payments: a few pending OXXO references and paid SPEI transfers of today,
issued by the labelled demonstration provider, and the two steps the ledger's history
(`portal.demo.ledger`) pays its weeks with: opening an intent as the "Pagar" page does
and the provider's webhook event that marks it paid. Deterministic and idempotent;
every paid intent posts its own ledger payment (`payment:<intent id>`). No Flask here."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    Contract,
    ContractStatus,
    Driver,
    PaymentAccount,
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
)
from portal.payments import stripe
from portal.payments.base import ChargeRequest, SpeiAccount, oxxo_expiry
from portal.payments.demo import DemoClient, stripe_shaped_event
from portal.services.payments import (
    ensure_spei_account,
    intent_for_charge,
    payer_for,
    receive_event,
)

DEMO_CONTACT = "cobranza@lafa.mx"


def open_demo_intent(
    session: Session,
    client: DemoClient,
    driver: Driver,
    method: PaymentMethod,
    amount_cents: int,
    key: str,
    opened_at: datetime,
    account: PaymentAccount | None = None,
) -> PaymentIntent:
    """A pending payment at the demonstration provider, as the driver's "Pagar" page
    starts one (OXXO reference, SPEI to their reusable CLABE `account`) or a card
    payment. Added to the session, not flushed: a caller making many flushes once."""
    request = ChargeRequest(
        payer_for(driver, DEMO_CONTACT),
        amount_cents,
        key,
        "Renta LAFA",
        expires_at=oxxo_expiry(3, opened_at) if method == PaymentMethod.OXXO else None,
    )
    spei: SpeiAccount | None = None
    if method == PaymentMethod.OXXO:
        charge = client.create_oxxo(request)
    elif method == PaymentMethod.SPEI:
        stored = account or ensure_spei_account(session, driver, client, DEMO_CONTACT)
        spei = SpeiAccount(stored.provider_customer_id, stored.clabe, stored.bank_name)
        charge = client.create_spei(request, spei)
    else:  # a card payment: the provider charges the card at once
        charge = client.create_card(request)
    intent = intent_for_charge(driver.id, client.provider, method, amount_cents, charge, key, spei)
    intent.created_at = opened_at
    session.add(intent)
    return intent


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
        method = PaymentMethod.OXXO if n < 3 else PaymentMethod.SPEI
        key = f"demo:{method}:{contract.driver_id}"
        if session.scalar(select(PaymentIntent.id).where(PaymentIntent.idempotency_key == key)):
            continue
        intent = open_demo_intent(
            session, client, contract.driver, method, contract.weekly_rent_cents, key, now
        )
        session.flush()
        if method == PaymentMethod.SPEI:
            pay_by_webhook(session, intent, now)
        created += 1
    session.flush()
    return created


def pay_by_webhook(session: Session, intent: PaymentIntent, at: datetime) -> None:
    """The provider reports the payment: the Stripe-shaped event the demo's webhook
    sends, stored and applied by the same service as `/webhooks/stripe`."""
    payload = json.loads(stripe_shaped_event(intent, created=int(at.timestamp())))
    receive_event(
        session,
        PaymentProvider.STRIPE,
        stripe.parse_event(payload),
        payload,
        accept_demo=True,
        now=at,
    )
