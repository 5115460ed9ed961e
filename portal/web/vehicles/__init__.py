"""Vehicle records (staff on a tablet, admins): add and edit a car of the model
catalogue, move it through its lifecycle, see its history; the catalogue (admins).
The live vehicle page (telemetry, charging) is the fleet feature's."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

staff = Blueprint("staff", __name__, url_prefix="/operacion/vehiculos")
require_roles(staff, {Role.STAFF, Role.MANAGER, Role.ADMIN})
admin = Blueprint("admin", __name__, url_prefix="/admin/catalogo")
require_roles(admin, {Role.ADMIN})
bp = Blueprint("vehicles", __name__)
bp.register_blueprint(staff)
bp.register_blueprint(admin)
