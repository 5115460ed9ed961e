"""The provider clients build the requests each provider documents; only the network
transport is replaced, by a function that records the request and answers with a
response shaped like the provider's."""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from portal.models import PaymentProvider, PaymentStatus
from portal.payments import build_client
from portal.payments.base import ChargeRequest, MalformedEvent, Payer, SpeiAccount
from portal.payments.conekta import ConektaClient
from portal.payments.conekta import parse_event as parse_conekta
from portal.payments.demo import DemoClient, demo_clabe
from portal.payments.stripe import StripeClient, form_encode
from portal.payments.stripe import parse_event as parse_stripe
from portal.payments.transport import HttpResponse, ProviderError
from portal.services.identifiers import is_valid_clabe

PAYER = Payer(
    driver_id=7, name="Lucía Hernández Ramírez", email="lucia@example.mx", phone="5512345678"
)
EXPIRES = datetime(2026, 12, 3, 5, 59, 59, tzinfo=UTC)


class Recorder:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        status, body = self.responses.pop(0)
        return HttpResponse(status, json.dumps(body).encode())


def test_conekta_oxxo_order_request_and_response():
    order = {
        "id": "ord_2tUigJ8DgBhbp6w5D",
        "object": "order",
        "amount": 350000,
        "currency": "MXN",
        "payment_status": "pending_payment",
        "charges": {
            "object": "list",
            "data": [
                {
                    "id": "6407b5bee1329a000175ba11",
                    "object": "charge",
                    "amount": 350000,
                    "status": "pending_payment",
                    "payment_method": {
                        "object": "cash_payment",
                        "type": "oxxo",
                        "service_name": "OxxoPay",
                        "reference": "93000262276908",
                        "barcode_url": "https://s3.amazonaws.com/cash_payment_barcodes/93000262276908.png",
                        "expires_at": 1764741599,
                    },
                }
            ],
        },
    }
    transport = Recorder((200, order))
    client = ConektaClient("key_test_abc", transport)
    charge = client.create_oxxo(
        ChargeRequest(PAYER, 350_000, "pay:7:abcdefgh", "Renta LAFA", expires_at=EXPIRES)
    )

    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url == "https://api.conekta.io/orders"
    assert request.headers["Accept"] == "application/vnd.conekta-v2.1.0+json"
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"key_test_abc:").decode()
    )
    assert request.headers["Idempotency-Key"] == "pay:7:abcdefgh"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "currency": "MXN",
        "customer_info": {
            "name": "Lucía Hernández Ramírez",
            "email": "lucia@example.mx",
            "phone": "+525512345678",
        },
        "line_items": [{"name": "Renta LAFA", "unit_price": 350000, "quantity": 1}],
        "charges": [{"payment_method": {"type": "cash", "expires_at": int(EXPIRES.timestamp())}}],
        "metadata": {"lafa_key": "pay:7:abcdefgh", "driver_id": "7"},
    }
    assert charge.provider_payment_id == "ord_2tUigJ8DgBhbp6w5D"
    assert charge.reference == "93000262276908"
    assert charge.status == PaymentStatus.PENDING
    assert charge.expires_at == datetime.fromtimestamp(1764741599, UTC)
    assert charge.voucher_url.endswith("93000262276908.png")


def test_conekta_reusable_spei_clabe():
    customer = {
        "id": "cus_2tKcHxhTz7xU5SymF",
        "object": "customer",
        "payment_sources": {
            "object": "list",
            "data": [
                {
                    "id": "src_2tKcHxhTz7xU5SymG",
                    "object": "payment_source",
                    "type": "spei_recurrent",
                    "reference": "646180111802000138",
                    "bank": "STP",
                    "parent_id": "cus_2tKcHxhTz7xU5SymF",
                }
            ],
        },
    }
    transport = Recorder((200, customer))
    account = ConektaClient("key_x", transport).open_spei_account(PAYER, "spei-account:7")
    (request,) = transport.requests
    assert request.url == "https://api.conekta.io/customers"
    body = json.loads(request.body)
    assert body["payment_sources"] == [{"type": "spei_recurrent"}]
    assert request.headers["Idempotency-Key"] == "spei-account:7"
    assert account == SpeiAccount(
        "cus_2tKcHxhTz7xU5SymF", "646180111802000138", "STP", "src_2tKcHxhTz7xU5SymG"
    )


def test_conekta_refusal_is_a_provider_error():
    error = {"object": "error", "type": "parameter_validation_error", "details": [{"code": "x"}]}
    client = ConektaClient("key_x", Recorder((422, error)))
    with pytest.raises(ProviderError) as info:
        client.create_oxxo(ChargeRequest(PAYER, 100, "k" * 10, "Renta LAFA", expires_at=EXPIRES))
    assert info.value.status == 422


def test_stripe_oxxo_payment_intent_request_and_response():
    intent = {
        "id": "pi_3OxxoTest123",
        "object": "payment_intent",
        "amount": 350000,
        "currency": "mxn",
        "status": "requires_action",
        "next_action": {
            "type": "oxxo_display_details",
            "oxxo_display_details": {
                "expires_after": 1764741599,
                "hosted_voucher_url": "https://payments.stripe.com/oxxo/voucher/test_123",
                "number": "12345678901234657890123456789012",
            },
        },
    }
    transport = Recorder((200, intent))
    charge = StripeClient("sk_test_123", transport, oxxo_days=3).create_oxxo(
        ChargeRequest(PAYER, 350_000, "pay:7:abcdefgh", "Renta LAFA")
    )
    (request,) = transport.requests
    assert request.url == "https://api.stripe.com/v1/payment_intents"
    assert request.headers["Authorization"] == "Bearer sk_test_123"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Idempotency-Key"] == "pay:7:abcdefgh"
    assert parse_qsl(request.body.decode()) == [
        ("amount", "350000"),
        ("currency", "mxn"),
        ("description", "Renta LAFA"),
        ("payment_method_types[]", "oxxo"),
        ("payment_method_data[type]", "oxxo"),
        ("payment_method_data[billing_details][name]", "Lucía Hernández Ramírez"),
        ("payment_method_data[billing_details][email]", "lucia@example.mx"),
        ("payment_method_options[oxxo][expires_after_days]", "3"),
        ("confirm", "true"),
        ("metadata[lafa_key]", "pay:7:abcdefgh"),
        ("metadata[driver_id]", "7"),
    ]
    assert charge.provider_payment_id == "pi_3OxxoTest123"
    assert charge.reference == "12345678901234657890123456789012"
    assert charge.voucher_url.startswith("https://payments.stripe.com/")
    assert charge.expires_at == datetime.fromtimestamp(1764741599, UTC)


def test_stripe_spei_customer_funding_instructions_and_intent():
    customer = {"id": "cus_SpeiTest", "object": "customer"}
    funding = {
        "object": "funding_instructions",
        "currency": "mxn",
        "funding_type": "bank_transfer",
        "bank_transfer": {
            "country": "MX",
            "type": "mx_bank_transfer",
            "financial_addresses": [
                {
                    "type": "spei",
                    "supported_networks": ["spei"],
                    "spei": {
                        "bank_code": "002",
                        "bank_name": "BANAMEX",
                        "clabe": "002180650612345670",
                    },
                }
            ],
        },
    }
    intent = {
        "id": "pi_SpeiTest",
        "object": "payment_intent",
        "status": "requires_action",
        "next_action": {
            "type": "display_bank_transfer_instructions",
            "display_bank_transfer_instructions": {
                "amount_remaining": 350000,
                "currency": "mxn",
                "type": "mx_bank_transfer",
                "financial_addresses": funding["bank_transfer"]["financial_addresses"],
            },
        },
    }
    transport = Recorder((200, customer), (200, funding), (200, intent))
    client = StripeClient("sk_test_123", transport)
    account = client.open_spei_account(PAYER, "spei-account:7")
    charge = client.create_spei(
        ChargeRequest(PAYER, 350_000, "pay:7:xyzxyzxy", "Renta LAFA"), account
    )

    customer_req, funding_req, intent_req = transport.requests
    assert customer_req.url == "https://api.stripe.com/v1/customers"
    assert (
        funding_req.url == "https://api.stripe.com/v1/customers/cus_SpeiTest/funding_instructions"
    )
    assert parse_qsl(funding_req.body.decode()) == [
        ("currency", "mxn"),
        ("funding_type", "bank_transfer"),
        ("bank_transfer[type]", "mx_bank_transfer"),
    ]
    assert {customer_req.headers["Idempotency-Key"], funding_req.headers["Idempotency-Key"]} == {
        "spei-account:7:customer",
        "spei-account:7:funding",
    }
    fields = dict(parse_qsl(intent_req.body.decode()))
    assert fields["payment_method_types[]"] == "customer_balance"
    assert fields["customer"] == "cus_SpeiTest"
    assert fields["payment_method_options[customer_balance][funding_type]"] == "bank_transfer"
    assert (
        fields["payment_method_options[customer_balance][bank_transfer][type]"]
        == "mx_bank_transfer"
    )
    assert account.clabe == "002180650612345670"
    assert account.bank_name == "BANAMEX"
    assert charge.provider_payment_id == "pi_SpeiTest"
    assert charge.clabe == "002180650612345670"


def test_stripe_unreachable_is_a_provider_error():
    def down(request):
        raise ProviderError("could not reach api.stripe.com")

    with pytest.raises(ProviderError):
        StripeClient("sk_test", down).create_oxxo(ChargeRequest(PAYER, 100, "k" * 10, "x"))


def test_form_encoding_nests_and_lists():
    assert (
        form_encode({"a": {"b": [1, 2]}, "c": True, "d": None})
        == "a%5Bb%5D%5B%5D=1&a%5Bb%5D%5B%5D=2&c=true"
    )


def test_demo_client_issues_valid_clabes_and_stable_references():
    client = DemoClient()
    assert is_valid_clabe(demo_clabe(7))
    first = client.create_oxxo(ChargeRequest(PAYER, 100, "pay:7:abcdefgh", "x"))
    again = client.create_oxxo(ChargeRequest(PAYER, 100, "pay:7:abcdefgh", "x"))
    assert first == again
    assert len(first.reference) == 14
    assert first.reference.startswith("9300")
    assert first.provider_payment_id.startswith("demo_pi_")


def test_build_client_follows_the_configuration():
    assert build_client({"PAYMENTS_PROVIDER": ""}) is None
    assert build_client({"PAYMENTS_PROVIDER": "demo"}).provider == PaymentProvider.DEMO
    assert isinstance(
        build_client({"PAYMENTS_PROVIDER": "conekta", "CONEKTA_PRIVATE_KEY": "k"}), ConektaClient
    )
    assert isinstance(
        build_client({"PAYMENTS_PROVIDER": "stripe", "STRIPE_API_KEY": "k"}), StripeClient
    )


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"id": "evt"},
        {"id": "evt", "type": "order.paid"},
        {"id": "evt", "type": "order.paid", "data": {"object": {"id": "ord", "amount": "3500"}}},
    ],
)
def test_conekta_events_that_are_not_events_are_malformed(payload):
    with pytest.raises(MalformedEvent):
        parse_conekta(payload)


def test_stripe_events_of_other_types_are_kept_but_not_acted_on():
    event = parse_stripe(
        {"id": "evt_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    )
    assert event.status is None
