"""Depot staff's pages, made for a tablet."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.driver.statement_context import KIND_LABELS
from portal.htmx import render
from portal.models import Driver, LedgerEntry, Role, VehicleStatus
from portal.security import client_ip, require_roles
from portal.services import DomainError, statements
from portal.services.fleet import list_depots, list_fleet
from portal.services.ledger import driver_balance, reverse_entry

from .forms import STATUS_LABELS, FleetFilterForm, ReversalForm

bp = Blueprint("staff", __name__)
require_roles(bp, [Role.STAFF, Role.MANAGER, Role.ADMIN])


@bp.get("/flota")
def fleet() -> Response:
    session = Session()
    form = FleetFilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in list_depots(session)
    ]
    if not form.validate():
        return render(
            "staff/fleet.html",
            "results",
            status=422,
            form=form,
            page=None,
            status_labels=STATUS_LABELS,
        )
    page = list_fleet(
        session,
        depot_id=form.depot.data or None,
        status=VehicleStatus(form.status.data) if form.status.data else None,
        plate=form.plate.data or "",
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
    )
    return render("staff/fleet.html", "results", form=form, page=page, status_labels=STATUS_LABELS)


@bp.route("/conductores/<int:driver_id>/movimientos", methods=["GET", "POST"])
def driver_ledger(driver_id: int) -> Response:
    """A driver's movements and statements; managers reverse a movement here (POST)."""
    session = Session()
    driver = session.get(Driver, driver_id)
    if driver is None:
        abort(404)
    form = ReversalForm()
    failed_entry = None
    if request.method == "POST":
        if current_user.role not in (Role.MANAGER, Role.ADMIN):
            abort(403)
        if form.validate():
            entry = session.get(LedgerEntry, form.entry_id.data)
            if entry is None or entry.driver_id != driver.id:
                abort(404)
            try:
                reverse_entry(
                    session,
                    entry.id,
                    reason=form.reason.data or "",
                    actor_id=current_user.id,
                    ip=client_ip(),
                )
            except DomainError as error:
                form.reason.errors = [_(error.message, **error.params)]
            else:
                session.commit()
                flash(_("The movement was reversed."), "success")
                return redirect(url_for("staff.driver_ledger", driver_id=driver.id), 303)
        failed_entry = form.entry_id.data
    entries = statements.list_entries(session, driver.id, limit=200)
    return render(
        "staff/driver_ledger.html",
        status=422 if failed_entry is not None else 200,
        driver=driver,
        entries=entries,
        reversed_ids=statements.reversed_entry_ids(session, [e.id for e in entries]),
        balance=driver_balance(session, driver.id),
        statements=statements.list_statements(session, driver.id, limit=12),
        kind_labels=KIND_LABELS,
        form=form,
        failed_entry=failed_entry,
        can_reverse=current_user.role in (Role.MANAGER, Role.ADMIN),
    )
