"""Depot staff's pages, made for a tablet."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render
from portal.models import Role, VehicleStatus
from portal.security import require_roles
from portal.services.fleet import list_depots, list_fleet

from .forms import STATUS_LABELS, FleetFilterForm

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


from . import charging  # noqa: E402,F401 - registers the charger pages on bp
