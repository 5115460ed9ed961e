"""The driver's pages, made for a phone."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import Role
from portal.security import require_roles
from portal.services import fleet, statements
from portal.timeutil import local_today

from .statement_context import KIND_LABELS, statement_context

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


def _driver_id() -> int:
    driver = current_user.driver
    if driver is None:
        abort(404)
    return int(driver.id)


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
    )


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
    return render("driver/statement.html", "pdf_widget", **statement_context(session, found))


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
