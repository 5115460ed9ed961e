"""Conekta (API v2.1): orders with an OXXO cash charge, a reusable SPEI CLABE per
customer (`spei_recurrent`), and the events its webhooks send.

Requests are JSON, authenticated with HTTP Basic (the private key as the user name,
no password), with `Accept: application/vnd.conekta-v2.1.0+json` and an
`Idempotency-Key` so a retried request never creates a second order.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from portal.models import PaymentMethod, PaymentProvider, PaymentStatus
from portal.services.identifiers import BANK_CODES

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

API_URL = "https://api.conekta.io"
ACCEPT = "application/vnd.conekta-v2.1.0+json"

EVENT_STATUS = {
    "order.paid": PaymentStatus.PAID,
    "charge.paid": PaymentStatus.PAID,
    "order.pending_payment": PaymentStatus.PENDING,
    "charge.pending_confirmation": PaymentStatus.PENDING,
    "order.expired": PaymentStatus.EXPIRED,
    "order.canceled": PaymentStatus.CANCELED,
    "charge.declined": PaymentStatus.FAILED,
    "order.declined": PaymentStatus.FAILED,
    "order.refunded": PaymentStatus.REFUNDED,
    "charge.refunded": PaymentStatus.REFUNDED,
}
METHODS = {
    "oxxo": PaymentMethod.OXXO,
    "oxxo_cash": PaymentMethod.OXXO,
    "cash": PaymentMethod.OXXO,
    "spei": PaymentMethod.SPEI,
    "spei_recurrent": PaymentMethod.SPEI,
    "bank_transfer": PaymentMethod.SPEI,
    "card": PaymentMethod.CARD,
    "credit": PaymentMethod.CARD,
    "debit": PaymentMethod.CARD,
}


class ConektaClient:
    provider = PaymentProvider.CONEKTA
    spei_needs_intent = False

    def __init__(self, private_key: str, transport: Transport = urllib_transport) -> None:
        if not private_key:
            raise ValueError("CONEKTA_PRIVATE_KEY is not set")
        self.private_key = private_key
        self.transport = transport

    def _post(self, path: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        token = base64.b64encode(f"{self.private_key}:".encode()).decode()
        request = HttpRequest(
            method="POST",
            url=API_URL + path,
            headers={
                "Accept": ACCEPT,
                "Accept-Language": "es",
                "Authorization": f"Basic {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
            },
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        )
        response = self.transport(request)
        if response.status >= 400:
            raise ProviderError("Conekta refused the request", response.status, _text(response))
        data = response.json()
        if not isinstance(data, dict):
            raise ProviderError("Conekta answered with something that is not an object")
        return data

    @staticmethod
    def _customer_info(payer: Payer) -> dict[str, str]:
        return {"name": payer.name, "email": payer.email, "phone": f"+52{payer.phone}"}

    def create_oxxo(self, request: ChargeRequest) -> ProviderCharge:
        payment_method: dict[str, Any] = {"type": "cash"}
        if request.expires_at is not None:
            payment_method["expires_at"] = int(request.expires_at.timestamp())
        order = self._post(
            "/orders",
            {
                "currency": "MXN",
                "customer_info": self._customer_info(request.payer),
                "line_items": [
                    {
                        "name": request.description,
                        "unit_price": request.amount_cents,
                        "quantity": 1,
                    }
                ],
                "charges": [{"payment_method": payment_method}],
                "metadata": {
                    "lafa_key": request.idempotency_key,
                    "driver_id": str(request.payer.driver_id),
                },
            },
            request.idempotency_key,
        )
        try:
            charge = order["charges"]["data"][0]
            method = charge["payment_method"]
            return ProviderCharge(
                provider_payment_id=str(order["id"]),
                status=_order_status(order.get("payment_status")),
                reference=str(method["reference"]),
                voucher_url=method.get("barcode_url"),
                expires_at=from_unix(method.get("expires_at")),
            )
        except (KeyError, IndexError, TypeError, MalformedEvent) as exc:
            raise ProviderError(f"unexpected Conekta order: {exc!r}") from exc

    def open_spei_account(self, payer: Payer, idempotency_key: str) -> SpeiAccount:
        customer = self._post(
            "/customers",
            {
                **self._customer_info(payer),
                "payment_sources": [{"type": "spei_recurrent"}],
                "metadata": {"driver_id": str(payer.driver_id)},
            },
            idempotency_key,
        )
        try:
            source = next(
                s for s in customer["payment_sources"]["data"] if s.get("type") == "spei_recurrent"
            )
            clabe = str(source["reference"])
            bank = source.get("bank") or BANK_CODES.get(clabe[:3], "")
            return SpeiAccount(
                customer_id=str(customer["id"]),
                clabe=clabe,
                bank_name=bank,
                source_id=source.get("id"),
            )
        except (KeyError, TypeError, StopIteration) as exc:
            raise ProviderError(f"unexpected Conekta customer: {exc!r}") from exc


def _text(response: Any) -> str:
    return bytes(response.body).decode("utf-8", "replace")


def _order_status(value: Any) -> PaymentStatus:
    return {
        "paid": PaymentStatus.PAID,
        "expired": PaymentStatus.EXPIRED,
        "canceled": PaymentStatus.CANCELED,
        "refunded": PaymentStatus.REFUNDED,
        "declined": PaymentStatus.FAILED,
    }.get(str(value), PaymentStatus.PENDING)


def parse_event(payload: Any) -> ProviderEvent:
    """A Conekta webhook body as a ProviderEvent (MalformedEvent if it is not one)."""
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
    if event_type.startswith("order."):
        object_id = obj.get("id")
        charges = (obj.get("charges") or {}).get("data") or []
        charge = charges[0] if charges and isinstance(charges[0], dict) else {}
        customer_id = (obj.get("customer_info") or {}).get("customer_id")
    elif event_type.startswith("charge."):
        object_id = obj.get("order_id")
        charge = obj
        customer_id = obj.get("customer_id")
    else:
        return ProviderEvent(event_id, event_type, None, None)
    if status is not None and not isinstance(object_id, str):
        raise MalformedEvent("the event names no order")
    method_info = charge.get("payment_method") or {}
    amount = obj.get("amount")
    if status is not None and not isinstance(amount, int):
        raise MalformedEvent("amount must be an integer number of centavos")
    return ProviderEvent(
        event_id=event_id,
        type=event_type,
        object_id=object_id,
        status=status,
        amount_cents=amount,
        method=METHODS.get(str(method_info.get("type") or method_info.get("object") or "")),
        customer_id=customer_id,
        reference=method_info.get("clabe") or method_info.get("reference"),
        occurred_at=from_unix(charge.get("paid_at") or payload.get("created_at")),
    )
