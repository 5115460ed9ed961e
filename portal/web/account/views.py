"""A driver's money: the driver's home, statements and movements; the staff's
collections list and a driver's account, where cash is recorded and managers reverse."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import Driver, LedgerEntry, Role, Statement
from portal.security import client_ip
from portal.services import statements
from portal.services.collections import Sort, iter_collections, list_collections
from portal.services.driver_account import get_driver_account
from portal.services.driver_home import get_driver_home
from portal.services.fleet_status import get_driver_car_status
from portal.services.ledger import reverse_entry
from portal.services.payments import parse_amount, record_cash_payment
from portal.services.statement_view import get_statement_view
from portal.timeutil import local_today
from portal.web.kit import (
    csv_response,
    current_driver,
    depot_choices,
    done,
    enqueue_after_commit,
    form_action,
    money,
    pesos_input,
)
from portal.web.labels import ENTRY_KIND_LABELS
from portal.web.statements import statement_context
from workers.ledger import render_statement_pdf_job

from . import driver, staff
from .forms import CashPaymentForm, CollectionsFilterForm, ReversalForm
from .presenters import CSV_HEADER, collection_rows

MANAGERS = (Role.MANAGER, Role.ADMIN)

# -- the driver --------------------------------------------------------------------


@driver.get("/")
def home() -> Response:
    found = current_user.driver
    home = get_driver_home(Session(), found.id, local_today()) if found else None
    return render("account/driver_home.html", driver=found, home=home)


@driver.get("/vehicle-status")
def vehicle_status() -> Response:
    """The driver's car now (charge, range, position, km): polled by htmx every 15 s."""
    found = current_user.driver
    car_status = get_driver_car_status(Session(), found.id) if found else None
    return render("account/vehicle_status.html", "vehicle_status", car_status=car_status)


@driver.get("/estados-de-cuenta")
def statement_list() -> Response:
    found = statements.list_statements(Session(), current_driver().id)
    return render("account/statements.html", statements=found)


def _own_statement(statement_id: int) -> Statement:
    found = statements.get_statement(Session(), statement_id, driver_id=current_driver().id)
    if found is None:
        abort(404)
    return found


@driver.route("/estados-de-cuenta/<int:statement_id>", methods=["GET", "POST"])
def statement(statement_id: int) -> Response:
    """The statement; for htmx, only the PDF widget. The widget asks for the PDF with a
    POST (queued once the request commits) until it is ready; a GET only reads."""
    session = Session()
    found = _own_statement(statement_id)
    if request.method == "POST" and statements.request_pdf(session, found):
        enqueue_after_commit(session, render_statement_pdf_job, found.id)
        session.commit()
    view = get_statement_view(session, found)
    context = statement_context(view)
    pay_url = url_for("payments.driver.pay")
    return render("account/statement.html", "pdf_widget", pay_url=pay_url, **context)


@driver.get("/estados-de-cuenta/<int:statement_id>.pdf")
def statement_pdf(statement_id: int) -> Response:
    found = _own_statement(statement_id)
    path = statements.pdf_file(found, current_app.config["STATEMENTS_DIR"])
    if path is None:
        abort(404)
    name = f"estado-de-cuenta-{found.contract.number}-{found.week_start.isoformat()}.pdf"
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)


@driver.get("/movimientos")
def movements() -> Response:
    entries = statements.list_entries(Session(), current_driver().id, limit=100)
    return render("account/movements.html", entries=entries, kind_labels=ENTRY_KIND_LABELS)


# -- the staff -----------------------------------------------------------------------


def _collections_filters() -> tuple[CollectionsFilterForm, dict[str, Any]]:
    form = CollectionsFilterForm(request.args)
    form.depot.choices = depot_choices(Session())
    args = {
        "depot_id": form.depot.data or None,
        "min_days": form.late.data or 0,
        "search": form.q.data or "",
        "sort": Sort(form.sort.data) if form.sort.data in tuple(Sort) else Sort.DAYS,
    }
    return form, args


@staff.get("/cobranza")
def collections() -> Response:
    form, args = _collections_filters()
    if not form.validate():
        return render("account/collections.html", "results", status=422, form=form, page=None)
    page = list_collections(
        Session(),
        local_today(),
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
        **args,
    )
    return render("account/collections.html", "results", form=form, page=page)


@staff.get("/cobranza.csv")
def collections_csv() -> Response:
    form, args = _collections_filters()
    if not form.validate():
        abort(422)
    rows = iter_collections(Session(), local_today(), **args)
    filename = f"cobranza-{local_today().isoformat()}.csv"
    return csv_response(filename, CSV_HEADER, collection_rows(rows))


def _get_driver(driver_id: int) -> Driver:
    found = Session().get(Driver, driver_id)
    if found is None:
        abort(404)
    return found


def _account_page(
    found: Driver,
    *,
    reversal: ReversalForm | None = None,
    cash: CashPaymentForm | None = None,
    status: int = 200,
) -> Response:
    page = request.args.get("page", 1, type=int) or 1
    account = get_driver_account(Session(), found, local_today(), page)
    if cash is None:
        cash = CashPaymentForm(formdata=None)
        cash.amount.data = pesos_input(max(account.summary.balance_cents, 0) or None)
    reversal = reversal or ReversalForm(formdata=None)
    return render(
        "account/driver_account.html",
        "entries",
        status=status,
        account=account,
        kind_labels=ENTRY_KIND_LABELS,
        cash=cash,
        reversal=reversal,
        failed_entry=reversal.entry_id.data if status == 422 else None,
        can_reverse=current_user.role in MANAGERS,
    )


@staff.route("/conductores/<int:driver_id>/estado", methods=["GET", "POST"])
def driver_account(driver_id: int) -> Response:
    """A driver's money on one page: balance, days late, how they pay, the movements
    with their running balance (paged; htmx swaps #entries), the statements and the
    cash payment form. Managers reverse a movement here (POST)."""
    found = _get_driver(driver_id)
    if request.method == "GET":
        return _account_page(found)
    if current_user.role not in MANAGERS:
        abort(403)
    form = ReversalForm()
    if form.validate():
        entry = Session().get(LedgerEntry, form.entry_id.data)
        if entry is None or entry.driver_id != found.id:
            abort(404)
        with form_action(form, "reason") as action:
            reverse_entry(
                Session(),
                entry.id,
                reason=form.reason.data or "",
                actor_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            flash(_("The movement was reversed."), "success")
            return done(url_for("account.staff.driver_account", driver_id=found.id))
    return _account_page(found, reversal=form, status=422)


@staff.route("/conductores/<int:driver_id>/movimientos", methods=["GET", "POST"])
def driver_movements(driver_id: int) -> Response:
    """The former movements page: its movements, statements and reversals are on the
    account page now (308 keeps a reversal's POST a POST)."""
    url = url_for("account.staff.driver_account", driver_id=driver_id, **request.args)
    return redirect(url, 308)


@staff.route("/conductores/<int:driver_id>/efectivo", methods=["GET", "POST"])
def cash_payment(driver_id: int) -> Response:
    """Cash received at the depot: the form is on the account page (GET goes there)."""
    found = _get_driver(driver_id)
    account_url = url_for("account.staff.driver_account", driver_id=found.id)
    if request.method == "GET":
        return redirect(f"{account_url}#efectivo", 303)
    form = CashPaymentForm()
    if form.validate():
        with form_action(form, "amount") as action:
            intent = record_cash_payment(
                Session(),
                driver_id=found.id,
                amount_cents=parse_amount(form.amount.data),
                receipt_number=form.receipt_number.data or "",
                actor_id=current_user.id,
                ip=client_ip(),
            )
        if action.ok:
            flash(_cash_recorded(intent.amount_cents, intent.receipt_number), "success")
            return done(account_url)
    return _account_page(found, cash=form, status=422)


def _cash_recorded(amount_cents: int, receipt_number: str | None) -> str:
    return _(
        "Cash payment of %(amount)s recorded, receipt %(number)s.",
        amount=money(amount_cents),
        number=receipt_number,
    )
