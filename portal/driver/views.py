"""The driver's pages, made for a phone."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.db import Session
from portal.htmx import render
from portal.models import Role
from portal.security import require_roles
from portal.services import fleet
from portal.services.fleet_status import get_driver_car_status
from portal.timeutil import local_today

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


@bp.get("/")
def home() -> str:
    driver = current_user.driver
    contract = fleet.get_active_contract(Session(), driver.id) if driver else None
    week = contract.week_number(local_today()) if contract else None
    car_status = get_driver_car_status(Session(), driver.id) if driver else None
    return render_template(
        "driver/home.html", driver=driver, contract=contract, week=week, car_status=car_status
    )


@bp.get("/vehicle-status")
def vehicle_status() -> Response:
    """The driver's car now (charge, range, position, km): polled by htmx every 15 s."""
    driver = current_user.driver
    car_status = get_driver_car_status(Session(), driver.id) if driver else None
    return render("driver/vehicle_status.html", "vehicle_status", car_status=car_status)
