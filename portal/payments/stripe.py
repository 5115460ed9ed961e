"""Stripe (Mexico): PaymentIntents for OXXO vouchers and for SPEI bank transfers
through the customer's cash balance, and the events its webhooks send.

Requests are form-encoded (`a[b][c]=v`, lists as `a[]=v`), authenticated with the
secret key as a Bearer token, with an `Idempotency-Key` (at most 255 characters).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from portal.models import PaymentMethod, PaymentProvider, PaymentStatus

from .base import (
    ChargeRequest,
    MalformedEvent,
    Payer,
    ProviderCharge,
    ProviderEvent,
    SpeiAccount,
    from_unix,
    require,
)
from .transport import HttpRequest, ProviderError, Transport, urllib_transport

API_URL = "https://api.stripe.com"

EVENT_STATUS = {
    "payment_intent.succeeded": PaymentStatus.PAID,
    "payment_intent.processing": PaymentStatus.PENDING,
    "payment_intent.requires_action": PaymentStatus.PENDING,
    "payment_intent.partially_funded": PaymentStatus.PENDING,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELED,
    "charge.refunded": PaymentStatus.REFUNDED,
}
INTENT_STATUS = {
    "succeeded": PaymentStatus.PAID,
    "canceled": PaymentStatus.CANCELED,
}
METHODS = {
    "oxxo": PaymentMethod.OXXO,
    "customer_balance": PaymentMethod.SPEI,
    "card": PaymentMethod.CARD,
}


def form_encode(params: dict[str, Any]) -> str:
    """Stripe's form encoding of nested parameters, in a stable order."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), sub)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(f"{prefix}[]", item)
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        elif value is not None:
            pairs.append((prefix, str(value)))

    walk("", params)
    return urlencode(pairs)


class StripeClient:
    provider = PaymentProvider.STRIPE
    spei_needs_intent = True

    def __init__(
        self, api_key: str, transport: Transport = urllib_transport, oxxo_days: int = 3
    ) -> None:
        if not api_key:
            raise ValueError("STRIPE_API_KEY is not set")
        self.api_key = api_key
        self.transport = transport
        self.oxxo_days = oxxo_days

    def _post(self, path: str, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        request = HttpRequest(
            method="POST",
            url=API_URL + path,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Idempotency-Key": idempotency_key[:255],
            },
            body=form_encode(params).encode(),
        )
        response = self.transport(request)
        if response.status >= 400:
            text = response.body.decode("utf-8", "replace")
            raise ProviderError("Stripe refused the request", response.status, text)
        data = json.loads(response.body)
        if not isinstance(data, dict):
            raise ProviderError("Stripe answered with something that is not an object")
        return data

    @staticmethod
    def _metadata(request: ChargeRequest) -> dict[str, str]:
        return {"lafa_key": request.idempotency_key, "driver_id": str(request.payer.driver_id)}

    def create_oxxo(self, request: ChargeRequest) -> ProviderCharge:
        intent = self._post(
            "/v1/payment_intents",
            {
                "amount": request.amount_cents,
                "currency": "mxn",
                "description": request.description,
                "payment_method_types": ["oxxo"],
                "payment_method_data": {
                    "type": "oxxo",
                    "billing_details": {
                        "name": request.payer.name,
                        "email": request.payer.email,
                    },
                },
                "payment_method_options": {"oxxo": {"expires_after_days": self.oxxo_days}},
                "confirm": True,
                "metadata": self._metadata(request),
            },
            request.idempotency_key,
        )
        try:
            details = intent["next_action"]["oxxo_display_details"]
            return ProviderCharge(
                provider_payment_id=str(intent["id"]),
                status=INTENT_STATUS.get(intent.get("status", ""), PaymentStatus.PENDING),
                reference=str(details["number"]),
                voucher_url=details.get("hosted_voucher_url"),
                expires_at=from_unix(details.get("expires_after")),
            )
        except (KeyError, TypeError, MalformedEvent) as exc:
            raise ProviderError(f"unexpected Stripe PaymentIntent: {exc!r}") from exc

    def open_spei_account(self, payer: Payer, idempotency_key: str) -> SpeiAccount:
        customer = self._post(
            "/v1/customers",
            {
                "name": payer.name,
                "email": payer.email,
                "phone": f"+52{payer.phone}",
                "metadata": {"driver_id": str(payer.driver_id)},
            },
            f"{idempotency_key}:customer",
        )
        customer_id = str(customer.get("id", ""))
        if not customer_id:
            raise ProviderError("Stripe created a customer without an id")
        instructions = self._post(
            f"/v1/customers/{quote(customer_id, safe='')}/funding_instructions",
            {
                "currency": "mxn",
                "funding_type": "bank_transfer",
                "bank_transfer": {"type": "mx_bank_transfer"},
            },
            f"{idempotency_key}:funding",
        )
        spei = _spei_address(instructions.get("bank_transfer"))
        return SpeiAccount(
            customer_id=customer_id, clabe=spei["clabe"], bank_name=spei["bank_name"]
        )

    def create_spei(self, request: ChargeRequest, account: SpeiAccount) -> ProviderCharge:
        intent = self._post(
            "/v1/payment_intents",
            {
                "amount": request.amount_cents,
                "currency": "mxn",
                "customer": account.customer_id,
                "description": request.description,
                "payment_method_types": ["customer_balance"],
                "payment_method_data": {"type": "customer_balance"},
                "payment_method_options": {
                    "customer_balance": {
                        "funding_type": "bank_transfer",
                        "bank_transfer": {"type": "mx_bank_transfer"},
                    }
                },
                "confirm": True,
                "metadata": self._metadata(request),
            },
            request.idempotency_key,
        )
        try:
            instructions = intent.get("next_action", {}).get("display_bank_transfer_instructions")
            clabe = _spei_address(instructions)["clabe"] if instructions else account.clabe
            return ProviderCharge(
                provider_payment_id=str(intent["id"]),
                status=INTENT_STATUS.get(intent.get("status", ""), PaymentStatus.PENDING),
                clabe=clabe,
                customer_id=account.customer_id,
            )
        except (KeyError, TypeError) as exc:
            raise ProviderError(f"unexpected Stripe PaymentIntent: {exc!r}") from exc


def _spei_address(bank_transfer: Any) -> dict[str, str]:
    try:
        for address in bank_transfer["financial_addresses"]:
            if address.get("type") == "spei":
                spei = address["spei"]
                return {"clabe": str(spei["clabe"]), "bank_name": str(spei.get("bank_name", ""))}
    except (KeyError, TypeError) as exc:
        raise ProviderError(f"unexpected Stripe funding instructions: {exc!r}") from exc
    raise ProviderError("Stripe's funding instructions carry no SPEI address")


def parse_event(payload: Any) -> ProviderEvent:
    """A Stripe webhook body as a ProviderEvent (MalformedEvent if it is not one)."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the body is not a JSON object")
    event_id = require(payload, "id")
    event_type = require(payload, "type")
    obj = require(payload, "data", "object")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not event_id:
        raise MalformedEvent("id and type must be strings")
    if not isinstance(obj, dict):
        raise MalformedEvent("data.object must be an object")
    status = EVENT_STATUS.get(event_type)
    if status is None:
        return ProviderEvent(event_id, event_type, None, None)
    object_id = obj.get("payment_intent") if event_type.startswith("charge.") else obj.get("id")
    amount = obj.get("amount")
    if not isinstance(object_id, str) or not isinstance(amount, int):
        raise MalformedEvent("the event names no PaymentIntent or amount")
    if str(obj.get("currency", "mxn")).lower() != "mxn":
        raise MalformedEvent("only MXN payments are expected")
    types = obj.get("payment_method_types") or []
    method = next((METHODS[t] for t in types if t in METHODS), None)
    return ProviderEvent(
        event_id=event_id,
        type=event_type,
        object_id=object_id,
        status=status,
        amount_cents=amount,
        method=method,
        customer_id=obj.get("customer") if isinstance(obj.get("customer"), str) else None,
        occurred_at=from_unix(payload.get("created")),
    )
