"""The driver's payments (phone): pay by OXXO or SPEI, the history, one payment, the
driver's own CLABE."""

from __future__ import annotations

import secrets

from flask import abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import PaymentMethod
from portal.payments import ProviderClient, build_client
from portal.services import N_, DomainError, payments
from portal.services.ledger import driver_balance
from portal.web.kit import current_driver, form_action, pesos_input
from portal.web.labels import PAYMENT_METHOD_LABELS, PAYMENT_STATUS_LABELS

from . import driver
from .forms import PayForm

LABELS = {"status_labels": PAYMENT_STATUS_LABELS, "method_labels": PAYMENT_METHOD_LABELS}


def _pay_page(form: PayForm, client: ProviderClient | None, status: int = 200) -> Response:
    balance = driver_balance(Session(), current_driver().id)
    return render("payments/pay.html", status=status, form=form, balance=balance, client=client)


def _chosen_method(form: PayForm) -> PaymentMethod:
    if form.method.data not in (PaymentMethod.OXXO, PaymentMethod.SPEI):
        raise DomainError(N_("Choose how you want to pay."))
    return PaymentMethod(form.method.data)


@driver.route("/pagar", methods=["GET", "POST"])
def pay() -> Response:
    client = build_client(current_app.config)
    form = PayForm()
    if request.method == "GET":
        balance = driver_balance(Session(), current_driver().id)
        form.amount.data = pesos_input(balance) if balance > 0 else ""
        form.request_key.data = secrets.token_urlsafe(16)
        return _pay_page(form, client)
    if client is None:
        abort(404)
    form.validate()  # the CSRF token; the fields are checked by the service below
    config = current_app.config
    with form_action(form, "amount") as action:
        intent = payments.start_payment(
            Session(),
            driver=current_driver(),
            method=_chosen_method(form),
            amount_cents=payments.parse_amount(form.amount.data),
            request_key=form.request_key.data or "",
            client=client,
            contact_email=config["PAYMENTS_CONTACT_EMAIL"],
            oxxo_days=config["PAYMENTS_OXXO_DAYS"],
        )
    if not action.ok:
        return _pay_page(form, client, 422)
    if intent is None:
        return redirect(url_for("payments.driver.spei"), 303)
    return redirect(url_for("payments.driver.payment", intent_id=intent.id), 303)


@driver.get("/pagos")
def payments_history() -> Response:
    session = Session()
    driver_id = current_driver().id
    return render(
        "payments/history.html",
        intents=payments.list_driver_payments(session, driver_id),
        balance=driver_balance(session, driver_id),
        **LABELS,
    )


@driver.get("/pagos/<int:intent_id>")
def payment(intent_id: int) -> Response:
    session = Session()
    driver_id = current_driver().id
    intent = payments.get_driver_intent(session, driver_id, intent_id)
    if intent is None:
        abort(404)
    return render(
        "payments/payment.html",
        intent=intent,
        balance=driver_balance(session, driver_id),
        bank_name=payments.bank_name_for(session, intent),
        **LABELS,
    )


@driver.get("/spei")
def spei() -> Response:
    session = Session()
    driver_id = current_driver().id
    return render(
        "payments/spei.html",
        account=payments.get_payment_account(session, driver_id),
        balance=driver_balance(session, driver_id),
    )
