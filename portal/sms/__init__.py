"""SMS provider clients (no Flask), built like the payment clients: Twilio's Messages
API, and a labelled demonstration mode that sends nothing and lets the page show the
message instead.

`build_sms_client(config)` returns the client `SMS_PROVIDER` names, or None when SMS is
not configured. Only the HTTP transport is replaced in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.payments.transport import Transport, urllib_transport

from .base import SentSms, SmsClient, SmsError, SmsMessage
from .demo import DemoSmsClient
from .twilio import TwilioClient


def build_sms_client(
    config: Mapping[str, Any], transport: Transport = urllib_transport
) -> SmsClient | None:
    name = config.get("SMS_PROVIDER") or ""
    if name == "twilio":
        return TwilioClient(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            config["TWILIO_FROM"],
            transport,
        )
    if name == "demo":
        return DemoSmsClient()
    return None


__all__ = [
    "DemoSmsClient",
    "SentSms",
    "SmsClient",
    "SmsError",
    "SmsMessage",
    "TwilioClient",
    "build_sms_client",
]
