"""Payment provider clients (no Flask): Conekta, Stripe, and the labelled demo mode.

`build_client(config)` returns the client `PAYMENTS_PROVIDER` names, or None when
online payments are not configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ProviderClient
from .conekta import ConektaClient
from .demo import DemoClient
from .stripe import StripeClient
from .transport import Transport, urllib_transport

PROVIDERS = ("conekta", "stripe", "demo")


def build_client(
    config: Mapping[str, Any], transport: Transport = urllib_transport
) -> ProviderClient | None:
    name = config.get("PAYMENTS_PROVIDER") or ""
    days = int(config.get("PAYMENTS_OXXO_DAYS", 3))
    if name == "conekta":
        return ConektaClient(config["CONEKTA_PRIVATE_KEY"], transport)
    if name == "stripe":
        return StripeClient(config["STRIPE_API_KEY"], transport, oxxo_days=days)
    if name == "demo":
        return DemoClient(oxxo_days=days)
    return None


__all__ = ["PROVIDERS", "ConektaClient", "DemoClient", "StripeClient", "build_client"]
