"""The administrator's pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from portal.db import Session
from portal.models import Role
from portal.security import require_roles
from portal.services import reports

ROLE_LABELS = {
    Role.DRIVER: _l("Drivers"),
    Role.STAFF: _l("Depot staff"),
    Role.MANAGER: _l("Managers"),
    Role.ADMIN: _l("Administrators"),
}

bp = Blueprint("admin", __name__)
require_roles(bp, [Role.ADMIN])


@bp.get("/")
def home() -> str:
    session = Session()
    return render_template(
        "admin/home.html",
        users=reports.users_by_role(session),
        depots=reports.fleet_by_depot(session),
        events=reports.recent_audit_events(session, limit=20),
        role_labels=ROLE_LABELS,
    )


from . import chargers  # noqa: E402,F401 - registers the charger registry on bp
