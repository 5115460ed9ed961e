"""The driver's pages, made for a phone."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from portal.db import Session
from portal.models import Role
from portal.security import require_roles
from portal.services import fleet
from portal.timeutil import local_today

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


@bp.get("/")
def home() -> str:
    driver = current_user.driver
    contract = fleet.get_active_contract(Session(), driver.id) if driver else None
    week = contract.week_number(local_today()) if contract else None
    return render_template("driver/home.html", driver=driver, contract=contract, week=week)


from . import charging  # noqa: E402,F401 - registers the charging pages on bp
