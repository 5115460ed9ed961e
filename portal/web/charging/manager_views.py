"""Energy per depot per day (desktop): a server-side SVG chart and the numbers in a table;
each depot's smart-charging plan and its switch."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.security import client_ip
from portal.services.charging import profiles, smart
from portal.services.charging.board import energy_by_depot_day
from portal.services.depots import get_depot
from portal.timeutil import local_today
from portal.web.kit import done, form_action

from . import manager
from .forms import PlanningSwitchForm
from .presenters import energy_chart, plan_view

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


@manager.get("/carga-inteligente")
def smart_charging() -> Response:
    states = smart.depot_plans(Session())
    views = {
        s.depot.id: plan_view(s.plan, profiles.plan_profiles(Session(), s.plan))
        for s in states
        if s.plan is not None
    }
    return render("charging/smart.html", states=states, views=views, form=PlanningSwitchForm())


@manager.post("/carga-inteligente/<int:depot_id>")
def smart_charging_switch(depot_id: int) -> Response:
    form = PlanningSwitchForm()
    if not form.validate_on_submit():
        abort(422)
    with form_action() as action:
        depot = get_depot(Session(), depot_id)
        enabled = form.enabled.data == "on"
        smart.set_planning(Session(), depot, enabled, actor_id=current_user.id, ip=client_ip())
    if not action.ok:
        abort(404)
    return done(url_for(".smart_charging"))
