"""The manager's pages, made for a desktop."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.db import Session
from portal.models import Role
from portal.security import require_roles
from portal.services import fleet, reports
from portal.web.labels import VEHICLE_STATUS_LABELS as STATUS_LABELS

bp = Blueprint("manager", __name__)
require_roles(bp, [Role.MANAGER, Role.ADMIN])


@bp.get("/")
def home() -> str:
    session = Session()
    return render_template(
        "manager/home.html",
        counts=fleet.fleet_counts(session),
        depots=reports.fleet_by_depot(session),
        contracts=reports.contract_summary(session),
        status_labels=STATUS_LABELS,
    )


from . import dashboard  # noqa: E402,F401 - registers the dashboard pages
