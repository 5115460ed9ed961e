"""The demonstration SMS mode ("modo demostración"), for machines that reach no provider.

It sends nothing: the page that asked for the message shows it, labelled as a
demonstration. The portal refuses this mode in production (`config.check_production`).
"""

from __future__ import annotations

import hashlib

from .base import SentSms, SmsMessage


class DemoSmsClient:
    shows_on_screen = True

    def send(self, message: SmsMessage) -> SentSms:
        digest = hashlib.sha256(f"{message.to}:{message.body}".encode()).hexdigest()
        return SentSms(provider_message_id="demo_sms_" + digest[:24], status="shown")
