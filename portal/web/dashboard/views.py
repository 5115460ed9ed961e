"""The managers' pages (desktop): their home and the KPI dashboard with its CSV."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services import fleet, reports
from portal.timeutil import local_today
from portal.web.kit import csv_response, depot_choices
from portal.web.labels import VEHICLE_STATUS_LABELS

from . import manager
from .forms import DashboardFilterForm
from .presenters import CSV_HEADER, build_panels, csv_rows, data_note, period_of


@manager.get("/")
def home() -> Response:
    session = Session()
    return render(
        "dashboard/home.html",
        counts=fleet.fleet_counts(session),
        depots=reports.fleet_by_depot(session),
        contracts=reports.contract_summary(session),
        status_labels=VEHICLE_STATUS_LABELS,
    )


def _filters() -> DashboardFilterForm:
    form = DashboardFilterForm(request.args)
    form.depot.choices = depot_choices(Session())
    return form


@manager.get("/indicadores")
def kpis() -> Response:
    form = _filters()
    if not form.validate():
        return render(
            "dashboard/kpis.html", "panels", status=422, form=form, panels=None, csv_args={}
        )
    start, end = period_of(form, local_today())
    # The date fields show the period in effect, the starting point for custom dates.
    form.start.data, form.end.data = start, end
    panels, days = build_panels(Session(), start, end, form.depot.data or None)
    return render(
        "dashboard/kpis.html",
        "panels",
        form=form,
        panels=panels,
        data_note=data_note(days),
        start=start,
        end=end,
        csv_args=request.args.to_dict(),
    )


@manager.get("/indicadores.csv")
def kpis_csv() -> Response:
    form = _filters()
    if not form.validate():
        errors = "\n".join(str(e) for field_errors in form.errors.values() for e in field_errors)
        return Response(errors, status=422, mimetype="text/plain")
    start, end = period_of(form, local_today())
    panels, _days = build_panels(Session(), start, end, form.depot.data or None)
    filename = f"indicadores-{start.isoformat()}-{end.isoformat()}.csv"
    return csv_response(filename, CSV_HEADER, csv_rows(panels))
