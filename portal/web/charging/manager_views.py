"""Energy per depot per day (desktop): a server-side SVG chart and the numbers in a table."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services.charging.board import energy_by_depot_day
from portal.timeutil import local_today

from . import manager
from .presenters import energy_chart

DAYS = 14


@manager.get("/energia")
def energy() -> Response:
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    report = energy_by_depot_day(Session(), today=local_today(zone), days=DAYS, zone=zone)
    return render(
        "charging/energy.html",
        report=report,
        chart=energy_chart(report),
        days=DAYS,
        total_kwh=sum(r.kwh for r in report),
        total_cost=sum(r.cost_cents for r in report),
        total_sessions=sum(r.sessions for r in report),
    )
