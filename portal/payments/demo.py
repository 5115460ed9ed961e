"""The demonstration provider ("modo demostración"), for machines that reach no provider.

It issues OXXO references, SPEI CLABEs and payment ids locally (STP-prefixed CLABEs
with a valid check digit, 14-digit references), clearly labelled as a demonstration on
every page that shows them. Nothing is ever paid by this module: a demo payment
becomes paid only when a Stripe-shaped event, signed with the configured
`STRIPE_WEBHOOK_SECRET`, reaches `/webhooks/stripe` (`flask payments simulate-webhook`
sends one). The portal refuses this provider in production.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime

from portal.models import PaymentIntent, PaymentMethod, PaymentProvider, PaymentStatus
from portal.services.identifiers import clabe_check_digit

from .base import ChargeRequest, Payer, ProviderCharge, SpeiAccount, oxxo_expiry


def _digits(seed: str, n: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    return f"{number % 10**n:0{n}d}"


def demo_clabe(driver_id: int) -> str:
    first17 = "646180" + f"{driver_id:011d}"
    return first17 + clabe_check_digit(first17)


class DemoClient:
    provider = PaymentProvider.DEMO
    spei_needs_intent = True

    def __init__(self, oxxo_days: int = 3, now: datetime | None = None) -> None:
        self.oxxo_days = oxxo_days
        self.now = now

    def create_oxxo(self, request: ChargeRequest) -> ProviderCharge:
        return ProviderCharge(
            provider_payment_id="demo_pi_" + _digits(request.idempotency_key, 16),
            status=PaymentStatus.PENDING,
            reference="9300" + _digits("ref:" + request.idempotency_key, 10),
            expires_at=request.expires_at or oxxo_expiry(self.oxxo_days, self.now),
        )

    def create_card(self, request: ChargeRequest) -> ProviderCharge:
        """A card payment (the demo's history only: the portal takes no card details)."""
        return ProviderCharge(
            provider_payment_id="demo_pi_" + _digits(request.idempotency_key, 16),
            status=PaymentStatus.PENDING,
            customer_id=f"demo_cus_{request.payer.driver_id}",
        )

    def open_spei_account(self, payer: Payer, idempotency_key: str) -> SpeiAccount:
        return SpeiAccount(
            customer_id=f"demo_cus_{payer.driver_id}",
            clabe=demo_clabe(payer.driver_id),
            bank_name="STP",
        )

    def create_spei(self, request: ChargeRequest, account: SpeiAccount) -> ProviderCharge:
        return ProviderCharge(
            provider_payment_id="demo_pi_" + _digits(request.idempotency_key, 16),
            status=PaymentStatus.PENDING,
            clabe=account.clabe,
            customer_id=account.customer_id,
        )


def stripe_shaped_event(
    intent: PaymentIntent, event_type: str = "payment_intent.succeeded", created: int | None = None
) -> bytes:
    """The body of a Stripe event about a demo intent (what the demo's webhook sends)."""
    created = created if created is not None else int(time.time())
    method_type = {PaymentMethod.SPEI: "customer_balance", PaymentMethod.CARD: "card"}.get(
        intent.method, "oxxo"
    )
    status = {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.canceled": "canceled",
        "payment_intent.payment_failed": "requires_payment_method",
    }.get(event_type, "requires_action")
    body = {
        "id": "evt_demo_" + _digits(f"{intent.provider_payment_id}:{event_type}:{created}", 18),
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": intent.provider_payment_id,
                "object": "payment_intent",
                "amount": intent.amount_cents,
                "amount_received": intent.amount_cents if status == "succeeded" else 0,
                "currency": "mxn",
                "customer": intent.provider_customer_id,
                "status": status,
                "payment_method_types": [method_type],
                "metadata": {"lafa_key": intent.idempotency_key},
            }
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()
