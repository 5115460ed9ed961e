"""What every SMS client takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SmsError(RuntimeError):
    """The provider could not be reached or refused the message."""


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # a Mexican number, 10 digits
    body: str


@dataclass(frozen=True, slots=True)
class SentSms:
    provider_message_id: str
    status: str  # the provider's word: queued, accepted, … ("shown" for the demo)


class SmsClient(Protocol):
    # True for the demonstration mode: nothing leaves the portal, the page shows the text.
    shows_on_screen: bool

    def send(self, message: SmsMessage) -> SentSms: ...
