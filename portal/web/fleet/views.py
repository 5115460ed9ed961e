"""The live fleet (staff, tablet): the fleet list, the board, a vehicle's page."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, request
from werkzeug.wrappers import Response

from portal.db import Session, utcnow
from portal.htmx import render
from portal.models import Vehicle, VehicleStatus
from portal.services import fleet_status
from portal.services.fleet import list_fleet
from portal.services.telemetry import count_rejects, list_rejects
from portal.services.vehicle_page import get_vehicle_page
from portal.web.kit import depot_choices
from portal.web.labels import VEHICLE_STATUS_LABELS

from . import staff
from .forms import BOARD_FLAG_LABELS, BoardFilterForm, FleetFilterForm, PeriodForm
from .presenters import board_map, vehicle_context

BOARD_LABELS = {"status_labels": VEHICLE_STATUS_LABELS, "flag_labels": BOARD_FLAG_LABELS}


@staff.get("/flota")
def fleet() -> Response:
    form = FleetFilterForm(request.args)
    form.depot.choices = depot_choices(Session())
    context = {"form": form, "status_labels": VEHICLE_STATUS_LABELS}
    if not form.validate():
        return render("fleet/list.html", "results", status=422, page=None, **context)
    page = list_fleet(
        Session(),
        depot_id=form.depot.data or None,
        status=VehicleStatus(form.status.data) if form.status.data else None,
        plate=form.plate.data or "",
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
    )
    return render("fleet/list.html", "results", page=page, **context)


@staff.get("/tablero")
def board() -> Response:
    """The fleet board: every vehicle's charge, activity, last report and alerts, a map."""
    session = Session()
    form = BoardFilterForm(request.args)
    form.depot.choices = depot_choices(session)
    context = {"form": form, **BOARD_LABELS}
    if not form.validate():
        return render("fleet/board.html", "board", status=422, rows=None, **context)
    rows = fleet_status.list_board(
        session,
        depot_id=form.depot.data or None,
        flag=form.flag.data or None,
        sort=form.sort.data or "plate",
    )
    now = utcnow()
    depots = fleet_status.list_depots_on_map(session)
    return render(
        "fleet/board.html",
        "board",
        rows=rows,
        now=now,
        map=board_map(rows, depots, current_app.config.get("MAP_TILE_URL") or ""),
        map_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        rejects=count_rejects(session, now - timedelta(hours=24)),
        recent_rejects=list_rejects(session, limit=5),
        **context,
    )


@staff.get("/vehiculos/<int:vehicle_id>")
def vehicle(vehicle_id: int) -> Response:
    """A vehicle: its latest state, battery health, charge and speed charts, trips,
    charging, last frame."""
    session = Session()
    car = session.get(Vehicle, vehicle_id)
    if car is None:
        abort(404)
    form = PeriodForm(request.args)
    if not form.validate():
        return render(
            "fleet/vehicle.html",
            "charts",
            status=422,
            vehicle=car,
            form=form,
            page=None,
            chart=None,
        )
    page = get_vehicle_page(session, car, utcnow(), form.period.data or "24h")
    return render(
        "fleet/vehicle.html", "charts", vehicle=car, form=form, page=page, **vehicle_context(page)
    )
