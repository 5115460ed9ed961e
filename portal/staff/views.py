"""Depot staff's pages, made for a tablet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    request,
)
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render
from portal.models import Role, Vehicle, VehicleState, VehicleStatus
from portal.security import require_roles
from portal.services import fleet_status
from portal.services.fleet import list_depots, list_fleet
from portal.services.telemetry import count_rejects, list_rejects

from .forms import (
    BOARD_FLAG_LABELS,
    STATUS_LABELS,
    BoardFilterForm,
    FleetFilterForm,
    PeriodForm,
)

MAP_WIDTH = 800.0

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


@bp.get("/tablero")
def board() -> Response:
    """The fleet board: every vehicle's charge, activity, last report and alerts, a map."""
    session = Session()
    form = BoardFilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in list_depots(session)
    ]
    context = {
        "form": form,
        "status_labels": STATUS_LABELS,
        "flag_labels": BOARD_FLAG_LABELS,
        "rows": None,
    }
    if not form.validate():
        return render("staff/board.html", "board", status=422, **context)
    rows = fleet_status.list_board(
        session,
        depot_id=form.depot.data or None,
        flag=form.flag.data or None,
        sort=form.sort.data or "plate",
    )
    now = datetime.now(UTC)
    width = MAP_WIDTH
    height = fleet_status.map_height(width)
    tile_url = current_app.config.get("MAP_TILE_URL") or ""
    return render(
        "staff/board.html",
        "board",
        **context
        | {
            "rows": rows,
            "now": now,
            "map": {
                "width": width,
                "height": height,
                "tiles": fleet_status.map_tiles(tile_url, width, height) if tile_url else [],
                "depots": [
                    (d, fleet_status.project(float(d.latitude), float(d.longitude), width, height))
                    for d in fleet_status.list_depots_on_map(session)
                    if d.latitude is not None and d.longitude is not None
                ],
                "dots": [
                    (
                        row,
                        fleet_status.project(
                            row.state.latitude, row.state.longitude, width, height
                        ),
                    )
                    for row in rows
                    if row.state and fleet_status.on_map(row.state.latitude, row.state.longitude)
                ],
                "landmarks": [
                    (name, fleet_status.project(lat, lon, width, height))
                    for name, lat, lon in LANDMARKS
                ],
            },
            "rejects": count_rejects(session, now - timedelta(hours=24)),
            "recent_rejects": list_rejects(session, limit=5),
        },
    )


LANDMARKS = (
    ("Zócalo", 19.4326, -99.1332),
    ("Polanco", 19.4333, -99.1917),
    ("Santa Fe", 19.3595, -99.2606),
    ("AICM", 19.4361, -99.0719),
    ("Ciudad Universitaria", 19.3320, -99.1870),
    ("Xochimilco", 19.2572, -99.1033),
)


@bp.get("/vehiculos/<int:vehicle_id>")
def vehicle(vehicle_id: int) -> Response:
    """A vehicle: its latest state, charge and speed charts, trips, charging, last frame."""
    session = Session()
    car = session.get(Vehicle, vehicle_id)
    if car is None:
        abort(404)
    form = PeriodForm(request.args)
    if not form.validate():
        return render(
            "staff/vehicle.html",
            "charts",
            status=422,
            vehicle=car,
            form=form,
            chart=None,
            state=None,
            trips=[],
            episodes=[],
            raw=None,
        )
    period = form.period.data or "24h"
    now = datetime.now(UTC)
    span, _bucket = fleet_status.PERIODS[period]
    state = session.get(VehicleState, vehicle_id)
    series = (
        fleet_status.vehicle_series(session, car.tracker_imei, now, period)
        if car.tracker_imei
        else []
    )
    since = now - span
    x_range = (since.timestamp(), now.timestamp())
    top_speed = max([60.0, *(p.speed for p in series)])
    chart = {
        "width": 600,
        "height": 140,
        "period": period,
        "since": since,
        "now": now,
        "soc": fleet_status.polyline(
            [(p.at.timestamp(), p.soc_pct) for p in series], x_range, (0, 100), 600, 140
        ),
        "speed": fleet_status.polyline(
            [(p.at.timestamp(), p.speed) for p in series], x_range, (0, top_speed), 600, 140
        ),
        "top_speed": round(top_speed),
        "points": len(series),
    }
    return render(
        "staff/vehicle.html",
        "charts",
        vehicle=car,
        form=form,
        state=state,
        range_km=fleet_status.estimated_range_km(car, state),
        chart=chart,
        trips=fleet_status.list_trips(session, vehicle_id, now - timedelta(days=7)),
        episodes=fleet_status.list_charging_episodes(session, vehicle_id, now - timedelta(days=7)),
        raw=json.dumps(state.last_record, indent=2, ensure_ascii=False) if state else None,
        status_labels=STATUS_LABELS,
    )


from . import charging  # noqa: E402,F401 - registers the charger pages on bp
