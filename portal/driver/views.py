"""The driver's pages, made for a phone."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.models import Driver, PaymentMethod, Role
from portal.payments import build_client
from portal.security import require_roles
from portal.services import N_, DomainError, payments
from portal.services.ledger import driver_balance

from .forms import PAYMENT_METHOD_LABELS, PAYMENT_STATUS_LABELS, PayForm

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


def _driver() -> Driver:
    driver = current_user.driver
    if driver is None:
        abort(404)
    return driver


def _pesos(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@bp.route("/pagar", methods=["GET", "POST"])
def pay() -> Response | str:
    driver = _driver()
    session = Session()
    config = current_app.config
    client = build_client(config)
    balance = driver_balance(session, driver.id)
    form = PayForm()
    context = {"form": form, "balance": balance, "client": client}
    if request.method == "GET":
        form.amount.data = _pesos(balance) if balance > 0 else ""
        form.request_key.data = secrets.token_urlsafe(16)
        return render_template("driver/pay.html", **context)
    if client is None:
        abort(404)
    form.validate()  # the CSRF token; the fields are checked by the service below
    try:
        if form.method.data not in (PaymentMethod.OXXO, PaymentMethod.SPEI):
            raise DomainError(N_("Choose how you want to pay."))
        intent = payments.start_payment(
            session,
            driver=driver,
            method=PaymentMethod(form.method.data),
            amount_cents=payments.parse_amount(form.amount.data),
            request_key=form.request_key.data or "",
            client=client,
            contact_email=config["PAYMENTS_CONTACT_EMAIL"],
            oxxo_days=config["PAYMENTS_OXXO_DAYS"],
        )
    except DomainError as error:
        session.rollback()
        form.amount.errors = [_(error.message, **error.params)]
        return render_template("driver/pay.html", **context), 422  # type: ignore[return-value]
    session.commit()
    if intent is None:
        return redirect(url_for("driver.spei"), 303)
    return redirect(url_for("driver.payment", intent_id=intent.id), 303)


@bp.get("/pagos")
def payments_history() -> str:
    driver = _driver()
    session = Session()
    return render_template(
        "driver/payments.html",
        intents=payments.list_driver_payments(session, driver.id),
        balance=driver_balance(session, driver.id),
        status_labels=PAYMENT_STATUS_LABELS,
        method_labels=PAYMENT_METHOD_LABELS,
    )


@bp.get("/pagos/<int:intent_id>")
def payment(intent_id: int) -> str:
    driver = _driver()
    session = Session()
    intent = payments.get_driver_intent(session, driver.id, intent_id)
    if intent is None:
        abort(404)
    return render_template(
        "driver/payment.html",
        intent=intent,
        balance=driver_balance(session, driver.id),
        bank_name=payments.bank_name_for(session, intent),
        status_labels=PAYMENT_STATUS_LABELS,
        method_labels=PAYMENT_METHOD_LABELS,
    )


@bp.get("/spei")
def spei() -> str:
    driver = _driver()
    session = Session()
    return render_template(
        "driver/spei.html",
        account=payments.get_payment_account(session, driver.id),
        balance=driver_balance(session, driver.id),
    )


from . import charging  # noqa: E402,F401 - registers the charging pages on bp
