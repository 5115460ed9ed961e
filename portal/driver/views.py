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
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import Driver, PaymentMethod, Role
from portal.payments import build_client
from portal.security import require_roles
from portal.services import N_, DomainError, fleet, payments, statements
from portal.services.fleet_status import get_driver_car_status
from portal.services.ledger import driver_balance
from portal.timeutil import local_today

from .forms import PAYMENT_METHOD_LABELS, PAYMENT_STATUS_LABELS, PayForm
from .statement_context import KIND_LABELS, statement_context

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


@bp.app_template_filter("grouped")
def grouped(value: str | None, size: int = 4) -> str:
    """A long number in groups that are easy to read aloud: 9300 1234 5678 90."""
    text = value or ""
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _driver() -> Driver:
    driver = current_user.driver
    if driver is None:
        abort(404)
    return driver


def _driver_id() -> int:
    return int(_driver().id)


@bp.get("/")
def home() -> str:
    driver = current_user.driver
    session = Session()
    contract = fleet.get_active_contract(session, driver.id) if driver else None
    today = local_today()
    week = contract.week_number(today) if contract else None
    account = statements.account_summary(session, driver.id, contract, today) if driver else None
    latest = statements.list_statements(session, driver.id, limit=1) if driver else []
    return render_template(
        "driver/home.html",
        driver=driver,
        contract=contract,
        week=week,
        account=account,
        latest_statement=latest[0] if latest else None,
        car_status=get_driver_car_status(session, driver.id) if driver else None,
    )


@bp.get("/vehicle-status")
def vehicle_status() -> Response:
    """The driver's car now (charge, range, position, km): polled by htmx every 15 s."""
    driver = current_user.driver
    car_status = get_driver_car_status(Session(), driver.id) if driver else None
    return render("driver/vehicle_status.html", "vehicle_status", car_status=car_status)


@bp.get("/estados-de-cuenta")
def statement_list() -> str:
    items = statements.list_statements(Session(), _driver_id())
    return render_template("driver/statements.html", statements=items)


@bp.get("/estados-de-cuenta/<int:statement_id>")
def statement(statement_id: int) -> Response:
    """The statement; for htmx, only the PDF widget (it polls until the PDF is ready)."""
    session = Session()
    found = statements.get_statement(session, statement_id, driver_id=_driver_id())
    if found is None:
        abort(404)
    if statements.request_pdf(session, found):
        session.commit()
        from workers.ledger import render_statement_pdf_job

        render_statement_pdf_job.delay(found.id)
    return render(
        "driver/statement.html",
        "pdf_widget",
        pay_url=url_for("driver.pay"),
        **statement_context(session, found),
    )


@bp.get("/estados-de-cuenta/<int:statement_id>.pdf")
def statement_pdf(statement_id: int) -> Response:
    found = statements.get_statement(Session(), statement_id, driver_id=_driver_id())
    if found is None:
        abort(404)
    path = statements.pdf_file(found, current_app.config["STATEMENTS_DIR"])
    if path is None:
        abort(404)
    name = f"estado-de-cuenta-{found.contract.number}-{found.week_start.isoformat()}.pdf"
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)


@bp.get("/movimientos")
def movements() -> str:
    entries = statements.list_entries(Session(), _driver_id(), limit=100)
    return render_template("driver/movements.html", entries=entries, kind_labels=KIND_LABELS)


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
