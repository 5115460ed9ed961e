"""Provider webhooks: `/webhooks/conekta` and `/webhooks/stripe`.

No log-in and no CSRF token (the only blueprint exempt from CSRF): the provider's
signature over the raw body is the authentication. A bad, missing or stale signature
answers 401 and a body that is not an event 400; neither stores anything, both are
logged. A valid event is stored once by its provider event id and applied inline,
in the request's one transaction (a handful of row reads and writes, well inside the
providers' time-outs), then answered 200. A duplicate answers 200 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request

from portal.db import Session
from portal.models import PaymentProvider
from portal.payments import conekta, stripe
from portal.payments.base import MalformedEvent, ProviderEvent
from portal.payments.signatures import SignatureError, verify_conekta, verify_stripe
from portal.services import payments

from . import bp

log = logging.getLogger(__name__)


def _refuse(provider: str, status: int, reason: str) -> Response:
    log.warning(
        "webhook %s refused (%s): %s from %s, %d bytes",
        provider,
        status,
        reason,
        request.remote_addr,
        request.content_length or 0,
    )
    response = jsonify(error="invalid signature" if status == 401 else "malformed event")
    response.status_code = status
    return response


def _handle(
    provider: PaymentProvider,
    body: bytes,
    parse: Callable[[Any], ProviderEvent],
    accept_demo: bool = False,
) -> Response:
    try:
        payload = json.loads(body.decode("utf-8"))
        event = parse(payload)
    except (UnicodeDecodeError, ValueError, MalformedEvent) as exc:
        return _refuse(provider, 400, str(exc))
    stored, is_new = payments.receive_event(
        Session(), provider, event, payload, accept_demo=accept_demo
    )
    Session.commit()
    log.info(
        "webhook %s %s %s: %s",
        provider,
        event.event_id,
        event.type,
        stored.result if is_new else "duplicate",
    )
    return jsonify(received=True, duplicate=not is_new, result=stored.result)


@bp.post("/conekta")
def conekta_webhook() -> Response:
    body = request.get_data(cache=False)
    try:
        verify_conekta(
            body, request.headers.get("Digest"), current_app.config["CONEKTA_WEBHOOK_PUBLIC_KEY"]
        )
    except SignatureError as exc:
        return _refuse("conekta", 401, str(exc))
    return _handle(PaymentProvider.CONEKTA, body, conekta.parse_event)


@bp.post("/stripe")
def stripe_webhook() -> Response:
    body = request.get_data(cache=False)
    try:
        verify_stripe(
            body,
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
            now=time.time(),
        )
    except SignatureError as exc:
        return _refuse("stripe", 401, str(exc))
    accept_demo = current_app.config["PAYMENTS_PROVIDER"] == "demo"
    return _handle(PaymentProvider.STRIPE, body, stripe.parse_event, accept_demo=accept_demo)
