"""Webhooks signed exactly as the providers sign them, with keys made here."""

import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from portal.models import (
    EntryKind,
    LedgerEntry,
    PaymentAccount,
    PaymentIntent,
    PaymentMethod,
    PaymentProvider,
    PaymentStatus,
    WebhookEvent,
)
from portal.payments.demo import stripe_shaped_event
from portal.payments.signatures import conekta_digest, stripe_header
from portal.services.ledger import driver_balance

SECRET = "whsec_test_8b1f0c"


@pytest.fixture(scope="module")
def rsa_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def configured(app, monkeypatch, rsa_keys):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setitem(app.config, "CONEKTA_WEBHOOK_PUBLIC_KEY", rsa_keys[1])
    monkeypatch.setitem(app.config, "PAYMENTS_PROVIDER", "stripe")
    return rsa_keys


def _intent(db, driver, provider=PaymentProvider.STRIPE, method=PaymentMethod.OXXO, **kw):
    values = {
        "driver_id": driver.id,
        "provider": provider,
        "method": method,
        "amount_cents": 350_000,
        "provider_payment_id": f"pi_{driver.id}_{provider}",
        "reference": "93000262276908",
        "idempotency_key": f"pay:{driver.id}:{provider}:{method}",
    }
    intent = PaymentIntent(**(values | kw))
    db.add(intent)
    db.flush()
    return intent


def _stripe_event(intent, event_type="payment_intent.succeeded", event_id="evt_1"):
    body = json.loads(stripe_shaped_event(intent, event_type, created=int(time.time())))
    body["id"] = event_id
    return json.dumps(body).encode()


def _post_stripe(client, body, timestamp=None, secret=SECRET, header=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/json"}
    if header is not False:
        headers["Stripe-Signature"] = header or stripe_header(body, secret, timestamp)
    return client.post("/webhooks/stripe", data=body, headers=headers)


def _conekta_order_event(order_id, event_type="order.paid", event_id="evt_c1", **order):
    obj = {
        "id": order_id,
        "object": "order",
        "amount": 350_000,
        "currency": "MXN",
        "payment_status": event_type.split(".")[1],
        "customer_info": {"customer_id": order.pop("customer_id", None)},
        "charges": {
            "data": [
                {
                    "id": "ch_1",
                    "amount": 350_000,
                    "paid_at": 1764000000,
                    "payment_method": order.pop(
                        "payment_method", {"type": "oxxo", "reference": "93000262276908"}
                    ),
                }
            ]
        },
    }
    obj.update(order)
    return json.dumps(
        {"id": event_id, "type": event_type, "created_at": 1764000000, "data": {"object": obj}}
    ).encode()


def _post_conekta(client, body, private_key, digest=None):
    headers = {"Content-Type": "application/json"}
    if digest is not False:
        headers["Digest"] = digest or conekta_digest(body, private_key)
    return client.post("/webhooks/conekta", data=body, headers=headers)


def _counts(db):
    return (
        db.scalar(select(func.count(WebhookEvent.id))),
        db.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == EntryKind.PAYMENT)),
    )


def test_a_signed_stripe_paid_event_posts_one_payment_and_the_balance_drops(
    client, db, configured, make_contract, make_charge
):
    contract = make_contract()
    make_charge(contract.driver, 350_000, contract_id=contract.id)
    intent = _intent(db, contract.driver)
    response = _post_stripe(client, _stripe_event(intent))
    assert response.status_code == 200
    assert response.json == {"received": True, "duplicate": False, "result": "applied"}
    db.refresh(intent)
    assert intent.status == PaymentStatus.PAID
    entry = intent.ledger_entry
    assert entry.kind == EntryKind.PAYMENT
    assert entry.amount_cents == -350_000
    assert entry.idempotency_key == f"payment:{intent.id}"
    assert entry.contract_id == contract.id
    assert driver_balance(db, contract.driver_id) == 0


def test_the_same_event_twice_is_stored_once_and_posts_once(client, db, configured, make_driver):
    intent = _intent(db, make_driver())
    body = _stripe_event(intent)
    assert _post_stripe(client, body).status_code == 200
    again = _post_stripe(client, body)
    assert again.status_code == 200
    assert again.json["duplicate"] is True
    assert _counts(db) == (1, 1)


def test_two_different_paid_events_still_post_once(client, db, configured, make_driver):
    intent = _intent(db, make_driver())
    _post_stripe(client, _stripe_event(intent, event_id="evt_a"))
    response = _post_stripe(client, _stripe_event(intent, event_id="evt_b"))
    assert response.json["result"] == "ignored"
    assert _counts(db) == (2, 1)


def test_paid_before_pending_or_failed_still_ends_paid(client, db, configured, make_driver):
    driver = make_driver()
    intent = _intent(db, driver)
    _post_stripe(client, _stripe_event(intent, "payment_intent.succeeded", "evt_1"))
    _post_stripe(client, _stripe_event(intent, "payment_intent.requires_action", "evt_2"))
    _post_stripe(client, _stripe_event(intent, "payment_intent.payment_failed", "evt_3"))
    db.refresh(intent)
    assert intent.status == PaymentStatus.PAID
    assert driver_balance(db, driver.id) == -350_000


def test_expired_then_paid_ends_paid(client, db, configured, make_driver, rsa_keys):
    intent = _intent(
        db, make_driver(), provider=PaymentProvider.CONEKTA, provider_payment_id="ord_1"
    )
    _post_conekta(client, _conekta_order_event("ord_1", "order.expired", "evt_1"), rsa_keys[0])
    db.refresh(intent)
    assert intent.status == PaymentStatus.EXPIRED
    _post_conekta(client, _conekta_order_event("ord_1", "order.paid", "evt_2"), rsa_keys[0])
    db.refresh(intent)
    assert intent.status == PaymentStatus.PAID
    assert intent.ledger_entry is not None


def test_a_refund_reverses_the_payment(client, db, configured, make_driver, rsa_keys):
    driver = make_driver()
    intent = _intent(db, driver, provider=PaymentProvider.CONEKTA, provider_payment_id="ord_2")
    _post_conekta(client, _conekta_order_event("ord_2", "order.paid", "evt_1"), rsa_keys[0])
    assert driver_balance(db, driver.id) == -350_000
    _post_conekta(client, _conekta_order_event("ord_2", "order.refunded", "evt_2"), rsa_keys[0])
    db.refresh(intent)
    assert intent.status == PaymentStatus.REFUNDED
    assert driver_balance(db, driver.id) == 0


def test_a_transfer_to_a_reusable_conekta_clabe_becomes_a_payment(
    client, db, configured, make_driver, rsa_keys
):
    driver = make_driver()
    db.add(
        PaymentAccount(
            driver_id=driver.id,
            provider=PaymentProvider.CONEKTA,
            provider_customer_id="cus_abc",
            clabe="646180111802000138",
            bank_name="STP",
        )
    )
    db.flush()
    body = _conekta_order_event(
        "ord_spei_9",
        customer_id="cus_abc",
        payment_method={"type": "spei", "clabe": "646180111802000138"},
        amount=120_000,
    )
    response = _post_conekta(client, body, rsa_keys[0])
    assert response.json["result"] == "applied"
    intent = db.scalar(
        select(PaymentIntent).where(PaymentIntent.provider_payment_id == "ord_spei_9")
    )
    assert intent.driver_id == driver.id
    assert intent.method == PaymentMethod.SPEI
    assert intent.status == PaymentStatus.PAID
    assert driver_balance(db, driver.id) == -120_000


def test_an_event_for_an_unknown_payment_is_kept_and_applied_when_the_intent_appears(
    client, db, configured, make_driver
):
    from portal.services.payments import replay_stored_events

    driver = make_driver()
    ghost = PaymentIntent(
        driver_id=driver.id,
        provider=PaymentProvider.STRIPE,
        method=PaymentMethod.OXXO,
        amount_cents=350_000,
        provider_payment_id="pi_early",
        idempotency_key="pay:early",
    )
    response = _post_stripe(client, _stripe_event(ghost))
    assert response.json["result"] == "unmatched"
    db.add(ghost)
    db.flush()
    replay_stored_events(db, ghost)
    assert ghost.status == PaymentStatus.PAID


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad", 401),
        ("missing", 401),
        ("stale", 401),
        ("future", 401),
        ("garbled", 401),
        ("malformed", 400),
        ("not-json", 400),
    ],
)
def test_bad_stripe_requests_are_refused_and_store_nothing(
    client, db, configured, make_driver, caplog, case, status
):
    intent = _intent(db, make_driver())
    body = _stripe_event(intent)
    now = int(time.time())
    with caplog.at_level(logging.WARNING, logger="portal.web.webhooks.views"):
        if case == "bad":
            response = _post_stripe(client, body, secret="whsec_wrong")
        elif case == "missing":
            response = _post_stripe(client, body, header=False)
        elif case == "stale":
            response = _post_stripe(client, body, timestamp=now - 301)
        elif case == "future":
            response = _post_stripe(client, body, timestamp=now + 301)
        elif case == "garbled":
            response = _post_stripe(client, body, header="v1=abc,t=notanumber")
        elif case == "malformed":
            response = _post_stripe(client, b'{"id": "evt_x", "type": "payment_intent.succeeded"}')
        else:
            response = _post_stripe(client, b"<xml>no</xml>")
    assert response.status_code == status
    assert _counts(db) == (0, 0)
    assert "webhook stripe refused" in caplog.text


def test_a_tampered_body_fails_the_stripe_signature(client, db, configured, make_driver):
    intent = _intent(db, make_driver())
    body = _stripe_event(intent)
    header = stripe_header(body, SECRET, int(time.time()))
    tampered = body.replace(b"350000", b"999999")
    assert _post_stripe(client, tampered, header=header).status_code == 401


def test_several_v1_signatures_one_valid_is_accepted(client, db, configured, make_driver):
    intent = _intent(db, make_driver())
    body = _stripe_event(intent)
    now = int(time.time())
    valid = stripe_header(body, SECRET, now).split(",")[1]
    response = _post_stripe(client, body, header=f"t={now},v1={'0' * 64},{valid}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("case", "status"), [("bad", 401), ("missing", 401), ("not-base64", 401), ("malformed", 400)]
)
def test_bad_conekta_requests_are_refused_and_store_nothing(
    client, db, configured, make_driver, case, status, caplog
):
    _intent(db, make_driver(), provider=PaymentProvider.CONEKTA, provider_payment_id="ord_3")
    body = _conekta_order_event("ord_3")
    private, _ = configured
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with caplog.at_level(logging.WARNING, logger="portal.web.webhooks.views"):
        if case == "bad":
            response = _post_conekta(client, body, other)
        elif case == "missing":
            response = _post_conekta(client, body, private, digest=False)
        elif case == "not-base64":
            response = _post_conekta(client, body, private, digest="%%%not base64%%%")
        else:
            junk = b'{"id": 5}'
            response = _post_conekta(client, junk, private)
    assert response.status_code == status
    assert _counts(db) == (0, 0)
    assert "webhook conekta refused" in caplog.text


def test_a_valid_conekta_event_is_stored_once(client, db, configured, make_driver):
    _intent(db, make_driver(), provider=PaymentProvider.CONEKTA, provider_payment_id="ord_4")
    body = _conekta_order_event("ord_4")
    private, _ = configured
    assert _post_conekta(client, body, private).json["result"] == "applied"
    assert _post_conekta(client, body, private).json["duplicate"] is True
    assert _counts(db) == (1, 1)


def test_demo_payments_are_paid_through_the_stripe_endpoint_only_in_demo_mode(
    client, db, app, configured, make_driver, monkeypatch
):
    intent = _intent(
        db, make_driver(), provider=PaymentProvider.DEMO, provider_payment_id="demo_pi_1"
    )
    assert (
        _post_stripe(client, _stripe_event(intent, event_id="evt_d1")).json["result"] == "unmatched"
    )
    monkeypatch.setitem(app.config, "PAYMENTS_PROVIDER", "demo")
    assert (
        _post_stripe(client, _stripe_event(intent, event_id="evt_d2")).json["result"] == "applied"
    )


def test_webhooks_need_no_csrf_token_but_other_posts_do(app, db, configured, make_driver):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        intent = _intent(db, make_driver())
        assert _post_stripe(client, _stripe_event(intent)).status_code == 200
        assert client.post("/entrar", data={}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
