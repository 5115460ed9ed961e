"""Payments: starting an OXXO or SPEI payment, applying provider events, cash at
the depot. A payment becomes one ledger credit (`payment:<intent id>`) when it is
paid, however many times and in whatever order the provider reports it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import clock
from portal.models import (
    Contract,
    ContractStatus,
    Driver,
    EntryKind,
    PaymentAccount,
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
    PaymentStatus,
    WebhookEvent,
)
from portal.models.payments import STATUS_RANK
from portal.payments import conekta, stripe
from portal.payments.base import (
    ChargeRequest,
    MalformedEvent,
    Payer,
    ProviderCharge,
    ProviderClient,
    ProviderEvent,
    SpeiAccount,
    SpeiIntentClient,
    oxxo_expiry,
)
from portal.payments.transport import ProviderError

from . import N_, DomainError, FieldError, audit
from .identifiers import BANK_CODES
from .ledger import post_entry

log = logging.getLogger(__name__)

MAX_PAYMENT_CENTS = 5_000_000  # $50,000.00: more than a year of rent in one go is a typo
OXXO_MIN_CENTS = 1_000  # $10.00, OXXO's minimum
OXXO_MAX_CENTS = 1_000_000  # $10,000.00 per reference, OXXO's maximum
RECEIPT_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
METHOD_LABELS = {
    PaymentMethod.OXXO: "Pago en OXXO",
    PaymentMethod.SPEI: "Transferencia SPEI",
    PaymentMethod.CARD: "Pago con tarjeta",
    PaymentMethod.CASH: "Pago en efectivo en depósito",
}


def _now() -> datetime:
    return clock.now()


# --- amounts -----------------------------------------------------------------------


def parse_amount(raw: str | None) -> int | None:
    """Pesos as people type them ("3,500", "$3500.50", "3500,5" is refused) → centavos."""
    text = (raw or "").strip().replace("$", "").replace(" ", "").replace(",", "")
    if not re.fullmatch(r"-?\d{1,9}(\.\d{1,2})?", text):
        return None
    pesos, _, cents = text.partition(".")
    sign = -1 if pesos.startswith("-") else 1
    return sign * (abs(int(pesos)) * 100 + int(cents.ljust(2, "0") or 0))


def check_amount(amount_cents: int | None, method: PaymentMethod) -> int:
    if amount_cents is None:
        raise DomainError(N_("Write the amount in pesos, for example 3500 or 3500.50."))
    if amount_cents <= 0:
        raise DomainError(N_("The amount must be greater than zero."))
    if amount_cents > MAX_PAYMENT_CENTS:
        raise DomainError(N_("The amount cannot be more than %(limit)s."), limit="$50,000.00")
    if method == PaymentMethod.OXXO and amount_cents < OXXO_MIN_CENTS:
        raise DomainError(N_("OXXO takes payments of at least %(limit)s."), limit="$10.00")
    if method == PaymentMethod.OXXO and amount_cents > OXXO_MAX_CENTS:
        raise DomainError(
            N_("OXXO takes at most %(limit)s per reference; pay the rest by transfer."),
            limit="$10,000.00",
        )
    return amount_cents


# --- reads ---------------------------------------------------------------------------


def get_driver_intent(session: Session, driver_id: int, intent_id: int) -> PaymentIntent | None:
    """The intent, only if it belongs to `driver_id` (the caller answers 404 otherwise)."""
    return session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.id == intent_id, PaymentIntent.driver_id == driver_id
        )
    )


def list_driver_payments(session: Session, driver_id: int, limit: int = 50) -> list[PaymentIntent]:
    return list(
        session.scalars(
            select(PaymentIntent)
            .where(PaymentIntent.driver_id == driver_id)
            .order_by(PaymentIntent.created_at.desc(), PaymentIntent.id.desc())
            .limit(limit)
        )
    )


def get_payment_account(
    session: Session, driver_id: int, provider: PaymentProvider | None = None
) -> PaymentAccount | None:
    query = select(PaymentAccount).where(PaymentAccount.driver_id == driver_id)
    if provider is not None:
        query = query.where(PaymentAccount.provider == provider)
    return session.scalar(
        query.order_by(PaymentAccount.created_at.desc(), PaymentAccount.id.desc()).limit(1)
    )


def get_open_oxxo_reference(
    session: Session, driver_id: int, now: datetime | None = None
) -> PaymentIntent | None:
    """The driver's newest OXXO reference that can still be paid."""
    return session.scalar(
        select(PaymentIntent)
        .where(
            PaymentIntent.driver_id == driver_id,
            PaymentIntent.method == PaymentMethod.OXXO,
            PaymentIntent.status == PaymentStatus.PENDING,
            PaymentIntent.expires_at > (now or _now()),
        )
        .order_by(PaymentIntent.created_at.desc(), PaymentIntent.id.desc())
        .limit(1)
    )


def get_driver_clabe(session: Session, driver_id: int) -> str | None:
    """The driver's reusable SPEI CLABE (the newest, if they have one at several providers)."""
    account = get_payment_account(session, driver_id)
    return account.clabe if account else None


# --- starting a payment --------------------------------------------------------------


def payer_for(driver: Driver, contact_email: str) -> Payer:
    return Payer(
        driver_id=driver.id,
        name=driver.full_name,
        email=driver.email or contact_email,
        phone=driver.phone,
    )


def ensure_spei_account(
    session: Session, driver: Driver, client: ProviderClient, contact_email: str
) -> PaymentAccount:
    account = get_payment_account(session, driver.id, client.provider)
    if account is not None:
        return account
    try:
        opened = client.open_spei_account(
            payer_for(driver, contact_email), f"spei-account:{driver.id}"
        )
    except ProviderError as exc:
        log.warning("opening a SPEI account for driver %s failed: %s", driver.id, exc)
        raise DomainError(
            N_("We could not reach the payment provider. Try again in a few minutes.")
        ) from exc
    account = PaymentAccount(
        driver_id=driver.id,
        provider=client.provider,
        provider_customer_id=opened.customer_id,
        provider_source_id=opened.source_id,
        clabe=opened.clabe,
        bank_name=opened.bank_name,
    )
    session.add(account)
    session.flush()
    return account


def start_payment(
    session: Session,
    *,
    driver: Driver,
    method: PaymentMethod,
    amount_cents: int | None,
    request_key: str,
    client: ProviderClient,
    contact_email: str,
    oxxo_days: int = 3,
    now: datetime | None = None,
) -> PaymentIntent | None:
    """Create the provider's payment and our intent; the same `request_key` twice
    (a double tap, a retry) returns the first intent and calls the provider once.

    Returns None for a SPEI payment at a provider whose reusable CLABE needs no
    payment object (Conekta): the transfer itself creates it, reported by webhook.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", request_key or ""):
        raise DomainError(N_("The form expired. Reload the page and try again."))
    key = f"pay:{driver.id}:{request_key}"
    existing = session.scalar(select(PaymentIntent).where(PaymentIntent.idempotency_key == key))
    if existing is not None:
        return existing
    amount = check_amount(amount_cents, method)
    payer = payer_for(driver, contact_email)
    try:
        if method == PaymentMethod.OXXO:
            request = ChargeRequest(
                payer, amount, key, "Renta LAFA", expires_at=oxxo_expiry(oxxo_days, now)
            )
            charge = client.create_oxxo(request)
            account: SpeiAccount | None = None
        elif method == PaymentMethod.SPEI:
            stored = ensure_spei_account(session, driver, client, contact_email)
            if not client.spei_needs_intent:
                return None
            account = SpeiAccount(stored.provider_customer_id, stored.clabe, stored.bank_name)
            request = ChargeRequest(
                payer, amount, key, "Renta LAFA", customer_id=account.customer_id
            )
            charge = cast(SpeiIntentClient, client).create_spei(request, account)
        else:
            raise DomainError(N_("Choose how you want to pay."))
    except ProviderError as exc:
        log.warning("starting a %s payment for driver %s failed: %s", method, driver.id, exc)
        raise DomainError(
            N_("We could not reach the payment provider. Try again in a few minutes.")
        ) from exc
    intent = intent_for_charge(driver.id, client.provider, method, amount, charge, key, account)
    session.add(intent)
    session.flush()
    if charge.status != PaymentStatus.PENDING:
        advance(session, intent, charge.status, now=now)
    replay_stored_events(session, intent)
    return intent


def intent_for_charge(
    driver_id: int,
    provider: PaymentProvider,
    method: PaymentMethod,
    amount_cents: int,
    charge: ProviderCharge,
    idempotency_key: str,
    account: SpeiAccount | None = None,
) -> PaymentIntent:
    """Our record of a payment the provider has just created (not added to a session)."""
    return PaymentIntent(
        driver_id=driver_id,
        provider=provider,
        method=method,
        amount_cents=amount_cents,
        status=PaymentStatus.PENDING,
        provider_payment_id=charge.provider_payment_id,
        provider_customer_id=charge.customer_id or (account.customer_id if account else None),
        reference=charge.reference,
        voucher_url=charge.voucher_url,
        clabe=charge.clabe or (account.clabe if account else None),
        expires_at=charge.expires_at,
        idempotency_key=idempotency_key,
    )


# --- moving an intent forward ----------------------------------------------------------


def _active_contract_id(session: Session, driver_id: int) -> int | None:
    return session.scalar(
        select(Contract.id).where(
            Contract.driver_id == driver_id, Contract.status == ContractStatus.ACTIVE
        )
    )


def advance(
    session: Session,
    intent: PaymentIntent,
    status: PaymentStatus,
    *,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Move `intent` to `status` if that is forward (STATUS_RANK); post or reverse the
    ledger credit. Returns whether anything changed."""
    if STATUS_RANK[status] <= STATUS_RANK[intent.status]:
        return False
    now = now or _now()
    # The ledger first, then the intent's new status with its entry in one UPDATE.
    if status == PaymentStatus.PAID:
        _post_payment(session, intent, now)
    elif status == PaymentStatus.REFUNDED and intent.ledger_entry_id is not None:
        _reverse_payment(session, intent, now)
    intent.status = status
    intent.status_changed_at = now
    if status in (PaymentStatus.PAID, PaymentStatus.REFUNDED) and intent.paid_at is None:
        intent.paid_at = occurred_at or now
    session.flush()
    return True


def _post_payment(session: Session, intent: PaymentIntent, now: datetime) -> None:
    # Posted when the portal learns of it, so a closed week's statement never changes;
    # the provider's own time is kept in `paid_at`.
    label = METHOD_LABELS[intent.method]
    if intent.receipt_number:
        label = f"{label}, recibo {intent.receipt_number}"
    entry = post_entry(
        session,
        driver_id=intent.driver_id,
        contract_id=_active_contract_id(session, intent.driver_id),
        kind=EntryKind.PAYMENT,
        amount_cents=-intent.amount_cents,
        idempotency_key=f"payment:{intent.id}",
        description=label,
        posted_at=now,
        reference=(intent.receipt_number or intent.reference or intent.provider_payment_id or "")[
            :60
        ]
        or None,
        source_type="payment_intent",
        source_id=intent.id,
        created_by_id=intent.recorded_by_id,
    )
    intent.ledger_entry_id = entry.id


def _reverse_payment(session: Session, intent: PaymentIntent, now: datetime) -> None:
    entry = intent.ledger_entry
    assert entry is not None  # noqa: S101 - checked by the caller
    post_entry(
        session,
        driver_id=entry.driver_id,
        contract_id=entry.contract_id,
        kind=EntryKind.REVERSAL,
        amount_cents=-entry.amount_cents,
        # The ledger's own reversal key, so a manual reversal and a refund never both post.
        idempotency_key=f"reversal:{entry.id}",
        description="Pago reembolsado por el proveedor",
        posted_at=now,
        source_type="payment_intent",
        source_id=intent.id,
        reverses_id=entry.id,
    )


# --- webhooks ----------------------------------------------------------------------------

PARSERS: dict[PaymentProvider, Callable[[Any], ProviderEvent]] = {
    PaymentProvider.CONEKTA: conekta.parse_event,
    PaymentProvider.STRIPE: stripe.parse_event,
}


def receive_event(
    session: Session,
    provider: PaymentProvider,
    event: ProviderEvent,
    payload: dict[str, Any],
    *,
    accept_demo: bool = False,
    now: datetime | None = None,
) -> tuple[WebhookEvent, bool]:
    """Store the event once per provider event id and apply it. Returns (event, is_new);
    a duplicate changes nothing."""
    # One statement; a duplicate (or a copy racing this one) inserts nothing.
    stored = session.scalar(
        insert(WebhookEvent)
        .values(
            provider=provider,
            event_id=event.event_id,
            type=event.type[:80],
            object_id=event.object_id,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(WebhookEvent)
    )
    if stored is None:
        existing = session.scalar(
            select(WebhookEvent).where(
                WebhookEvent.provider == provider, WebhookEvent.event_id == event.event_id
            )
        )
        assert existing is not None  # noqa: S101 - the conflicting row is committed
        return existing, False
    apply_event(session, stored, event, accept_demo=accept_demo, now=now)
    return stored, True


def _providers_for(provider: PaymentProvider, accept_demo: bool) -> list[PaymentProvider]:
    if provider == PaymentProvider.STRIPE and accept_demo:
        return [PaymentProvider.STRIPE, PaymentProvider.DEMO]
    return [provider]


def apply_event(
    session: Session,
    stored: WebhookEvent,
    event: ProviderEvent,
    *,
    accept_demo: bool = False,
    now: datetime | None = None,
) -> None:
    now = now or _now()
    if event.status is None or event.object_id is None:
        _processed(session, stored, now, "ignored")
        return
    intent = session.scalar(
        select(PaymentIntent)
        .where(
            PaymentIntent.provider.in_(_providers_for(stored.provider, accept_demo)),
            PaymentIntent.provider_payment_id == event.object_id,
        )
        .with_for_update()
    )
    if intent is None and stored.provider == PaymentProvider.CONEKTA:
        intent = _recurrent_spei_intent(session, event)
    if intent is None:
        _processed(session, stored, now, "unmatched")
        log.info("webhook %s %s: no intent for %s", stored.provider, event.type, event.object_id)
        return
    if event.amount_cents is not None and event.amount_cents != intent.amount_cents:
        log.warning(
            "webhook %s: amount %s differs from intent %s's %s",
            event.event_id,
            event.amount_cents,
            intent.id,
            intent.amount_cents,
        )
    changed = advance(session, intent, event.status, occurred_at=event.occurred_at, now=now)
    stored.intent_id = intent.id
    _processed(session, stored, now, "applied" if changed else "ignored")


def _processed(session: Session, stored: WebhookEvent, now: datetime, result: str) -> None:
    """What became of the event, written in one UPDATE once it is applied."""
    stored.processed_at = now
    stored.result = result
    session.flush()


def _recurrent_spei_intent(session: Session, event: ProviderEvent) -> PaymentIntent | None:
    """A transfer to a driver's reusable Conekta CLABE: Conekta made the order itself."""
    if event.method != PaymentMethod.SPEI or not event.amount_cents or event.amount_cents <= 0:
        return None
    account = None
    if event.customer_id:
        account = session.scalar(
            select(PaymentAccount).where(
                PaymentAccount.provider == PaymentProvider.CONEKTA,
                PaymentAccount.provider_customer_id == event.customer_id,
            )
        )
    if account is None and event.reference:
        account = session.scalar(
            select(PaymentAccount).where(
                PaymentAccount.provider == PaymentProvider.CONEKTA,
                PaymentAccount.clabe == event.reference,
            )
        )
    if account is None:
        return None
    intent = PaymentIntent(
        driver_id=account.driver_id,
        provider=PaymentProvider.CONEKTA,
        method=PaymentMethod.SPEI,
        amount_cents=event.amount_cents,
        status=PaymentStatus.PENDING,
        provider_payment_id=event.object_id,
        provider_customer_id=account.provider_customer_id,
        clabe=account.clabe,
        idempotency_key=f"conekta:{event.object_id}",
    )
    session.add(intent)
    session.flush()
    return intent


def replay_stored_events(session: Session, intent: PaymentIntent) -> None:
    """Apply events that arrived before the intent was saved (a fast webhook)."""
    endpoint = (
        PaymentProvider.STRIPE
        if intent.provider in (PaymentProvider.STRIPE, PaymentProvider.DEMO)
        else intent.provider
    )
    parser = PARSERS.get(endpoint)
    if parser is None or intent.provider_payment_id is None:
        return
    waiting = session.scalars(
        select(WebhookEvent)
        .where(
            WebhookEvent.provider == endpoint,
            WebhookEvent.object_id == intent.provider_payment_id,
            WebhookEvent.intent_id.is_(None),
        )
        .order_by(WebhookEvent.id)
    ).all()
    for stored in waiting:
        try:
            event = parser(stored.payload)
        except MalformedEvent:
            continue
        apply_event(session, stored, event, accept_demo=intent.provider == PaymentProvider.DEMO)


# --- cash at the depot -----------------------------------------------------------------


def record_cash_payment(
    session: Session,
    *,
    driver_id: int,
    amount_cents: int | None,
    receipt_number: str,
    actor_id: int,
    ip: str | None = None,
    now: datetime | None = None,
) -> PaymentIntent:
    amount = check_amount(amount_cents, PaymentMethod.CASH)
    receipt = (receipt_number or "").strip().upper()
    if not RECEIPT_RE.match(receipt):
        raise FieldError(
            "receipt_number",
            N_("Write the receipt number as printed: letters, digits and dashes, up to 40."),
        )
    if session.get(Driver, driver_id) is None:
        raise DomainError(N_("That driver does not exist."))
    taken = session.scalar(
        select(func.count(PaymentIntent.id)).where(PaymentIntent.receipt_number == receipt)
    )
    if taken:
        raise FieldError(
            "receipt_number", N_("Receipt %(number)s is already recorded."), number=receipt
        )
    intent = PaymentIntent(
        driver_id=driver_id,
        provider=PaymentProvider.CASH,
        method=PaymentMethod.CASH,
        amount_cents=amount,
        status=PaymentStatus.PENDING,
        idempotency_key=f"cash:{receipt}",
        receipt_number=receipt,
        recorded_by_id=actor_id,
        created_at=now or _now(),
    )
    try:
        with session.begin_nested():
            session.add(intent)
    except IntegrityError as exc:  # two people typing the same receipt at once
        raise FieldError(
            "receipt_number", N_("Receipt %(number)s is already recorded."), number=receipt
        ) from exc
    advance(session, intent, PaymentStatus.PAID, now=now)
    audit.record(
        session,
        actor_id,
        "payment.cash_recorded",
        intent,
        ip=ip,
        driver_id=driver_id,
        amount_cents=amount,
        receipt_number=receipt,
        ledger_entry_id=intent.ledger_entry_id,
    )
    return intent


def bank_name_for(session: Session, intent: PaymentIntent) -> str | None:
    """The bank of the CLABE an SPEI intent is paid to, for the driver's bank app."""
    if not intent.clabe:
        return None
    account = session.scalar(select(PaymentAccount).where(PaymentAccount.clabe == intent.clabe))
    if account is not None:
        return account.bank_name
    return BANK_CODES.get(intent.clabe[:3])
