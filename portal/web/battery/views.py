"""The fleet's battery health (managers)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.services.battery import get_fleet_battery

from . import manager
from .presenters import fleet_battery_page


@manager.get("/bateria")
def fleet() -> Response:
    return render("battery/fleet.html", page=fleet_battery_page(get_fleet_battery(Session())))
