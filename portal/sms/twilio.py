"""Twilio's Programmable Messaging API (2010-04-01): one SMS per Message resource.

`POST https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
encoded (`To` in E.164, `From` a Twilio number or `MessagingServiceSid` an MG… SID,
`Body`), with HTTP Basic authentication (the Account SID and the Auth Token). Twilio
answers 201 with the message's JSON (`sid` SM…, `status` queued or accepted), or an
error object (`code`, `message`, `more_info`, `status`).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from portal.payments.transport import HttpRequest, ProviderError, Transport, urllib_transport
from portal.services.identifiers import phone_e164

from .base import SentSms, SmsError, SmsMessage

API_URL = "https://api.twilio.com/2010-04-01"


class TwilioClient:
    shows_on_screen = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        transport: Transport = urllib_transport,
    ) -> None:
        if not (account_sid and auth_token and sender):
            raise ValueError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM are needed")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.transport = transport

    def _sender_field(self) -> tuple[str, str]:
        if self.sender.startswith("MG"):
            return ("MessagingServiceSid", self.sender)
        return ("From", self.sender)

    def send(self, message: SmsMessage) -> SentSms:
        token = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        body = urlencode(
            [("To", phone_e164(message.to)), self._sender_field(), ("Body", message.body)]
        )
        request = HttpRequest(
            method="POST",
            url=f"{API_URL}/Accounts/{self.account_sid}/Messages.json",
            headers={
                "Accept": "application/json",
                "Authorization": f"Basic {token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=body.encode(),
        )
        try:
            response = self.transport(request)
        except ProviderError as exc:
            raise SmsError(str(exc)) from exc
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = {}
        if response.status not in (200, 201) or not isinstance(data, dict) or "sid" not in data:
            detail = data.get("message") if isinstance(data, dict) else None
            code = data.get("code") if isinstance(data, dict) else None
            raise SmsError(
                f"Twilio refused the message (status {response.status}, code {code}): "
                f"{detail or json.dumps(data)[:200]}"
            )
        return SentSms(provider_message_id=str(data["sid"]), status=str(data.get("status", "")))
