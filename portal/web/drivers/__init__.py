"""Drivers (staff, a tablet): from an approved credit application in one action, or by
hand; their record and contact data; suspension; their access (a code to set the
password). A driver's money is the account feature's."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

staff = Blueprint("staff", __name__, url_prefix="/operacion")
require_roles(staff, {Role.STAFF, Role.MANAGER, Role.ADMIN})
bp = Blueprint("drivers", __name__)
bp.register_blueprint(staff)
