"""The administrator's home page."""

from __future__ import annotations

from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services import reports
from portal.web.labels import ROLE_LABELS

from . import admin


@admin.get("/")
def home() -> Response:
    session = Session()
    return render(
        "admin/home.html",
        users=reports.users_by_role(session),
        depots=reports.fleet_by_depot(session),
        events=reports.recent_audit_events(session, limit=20),
        role_labels=ROLE_LABELS,
    )
