"""Energy per depot per day (desktop): a server-side SVG chart and the numbers in a table,
and a depot's month as CFE bills it; each depot's smart-charging plan and its switch."""

from __future__ import annotations

from contextlib import suppress
from datetime import date
from zoneinfo import ZoneInfo

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.i18n import local_date
from portal.models import Depot
from portal.security import client_ip
from portal.services.charging import bill, profiles, smart
from portal.services.charging.board import energy_by_depot_day
from portal.services.depots import get_depot, list_depots
from portal.timeutil import local_today
from portal.web.kit import done, enqueue_after_commit, form_action
from workers.smart_charging import replan_depot_job

from . import manager
from .forms import BillForm, PlanningSwitchForm
from .presenters import bill_view, energy_chart, plan_view

DAYS = 14


def _bill_form(depots: list[Depot], today: date) -> tuple[BillForm, Depot | None, date | None]:
    """The depot and month asked for; the first depot and this month when none is."""
    months = {m.strftime("%Y-%m"): m for m in bill.recent_months(today)}
    form = BillForm(request.args)
    form.depot.choices = [(d.id, d.name) for d in depots]
    form.month.choices = [(key, local_date(m, "LLLL y")) for key, m in months.items()]
    if not request.args:
        form.depot.data = depots[0].id if depots else None
        form.month.data = next(iter(months))
    elif not form.validate():
        return form, None, None
    depot = next((d for d in depots if d.id == form.depot.data), None)
    return form, depot, months.get(form.month.data or "")


@manager.get("/energia")
def energy() -> Response:
    session = Session()
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    today = local_today(zone)
    report = energy_by_depot_day(session, today=today, days=DAYS, zone=zone)
    form, depot, month = _bill_form(list_depots(session), today)
    month_bill = None
    if depot is not None and month is not None:
        with suppress(smart.NoTariff):  # the template says the depot has no tariff
            month_bill = bill.month_bill(session, depot, month)
    return render(
        "charging/energy.html",
        "bill",
        status=422 if form.errors else 200,
        form=form,
        depot=depot,
        month=month,
        bill=month_bill,
        bill_view=bill_view(month_bill) if month_bill else None,
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
        if enabled:  # the first plan now, not at the next quarter hour
            enqueue_after_commit(Session(), replan_depot_job, depot.id)
    if not action.ok:
        abort(404)
    return done(url_for(".smart_charging"))
