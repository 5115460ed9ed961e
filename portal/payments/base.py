"""What every provider client takes and returns, in the portal's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from portal import clock
from portal.models import PaymentMethod, PaymentProvider, PaymentStatus
from portal.timeutil import MEXICO_CITY


class MalformedEvent(ValueError):
    """A webhook body that is not an event of the provider's shape."""


@dataclass(frozen=True, slots=True)
class Payer:
    driver_id: int
    name: str
    email: str
    phone: str  # 10 digits


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    payer: Payer
    amount_cents: int
    idempotency_key: str
    description: str
    expires_at: datetime | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderCharge:
    provider_payment_id: str
    status: PaymentStatus
    reference: str | None = None
    voucher_url: str | None = None
    clabe: str | None = None
    expires_at: datetime | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpeiAccount:
    customer_id: str
    clabe: str
    bank_name: str
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A provider notification reduced to what the portal acts on."""

    event_id: str
    type: str
    object_id: str | None  # the order / PaymentIntent the event is about
    status: PaymentStatus | None  # None: a type the portal does not act on
    amount_cents: int | None = None
    method: PaymentMethod | None = None
    customer_id: str | None = None
    reference: str | None = None
    occurred_at: datetime | None = None


class ProviderClient(Protocol):
    provider: PaymentProvider
    # Conekta's reusable CLABE takes transfers with no order of ours: each one becomes
    # an order that the webhook reports. Stripe (and the demo) need an intent per payment.
    spei_needs_intent: bool

    def create_oxxo(self, request: ChargeRequest) -> ProviderCharge: ...

    def open_spei_account(self, payer: Payer, idempotency_key: str) -> SpeiAccount: ...


class SpeiIntentClient(ProviderClient, Protocol):
    """A provider that needs one payment object per SPEI payment (Stripe, the demo)."""

    def create_spei(self, request: ChargeRequest, account: SpeiAccount) -> ProviderCharge: ...


def oxxo_expiry(days: int, now: datetime | None = None) -> datetime:
    """23:59:59 Mexico City time, `days` calendar days from today (Stripe's OXXO rule)."""
    local = (now or clock.now()).astimezone(MEXICO_CITY)
    day = local.date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59), tzinfo=MEXICO_CITY).astimezone(UTC)


def from_unix(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MalformedEvent(f"not a Unix time: {value!r}") from exc


def require(mapping: Any, *path: str) -> Any:
    """mapping[path[0]][path[1]]..., or MalformedEvent naming what is missing."""
    value = mapping
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise MalformedEvent("missing " + ".".join(path))
        value = value[key]
    return value
