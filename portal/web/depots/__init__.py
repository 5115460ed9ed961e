"""Depots (admins, a desktop): address, time zone, site limit, the CFE tariff as dated
prices, the drivers' energy price per kWh, retirement."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

admin = Blueprint("admin", __name__, url_prefix="/admin/depositos")
require_roles(admin, {Role.ADMIN})
bp = Blueprint("depots", __name__)
bp.register_blueprint(admin)
