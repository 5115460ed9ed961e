"""Day one from the spreadsheets (staff and admins): upload vehicles, drivers or
contracts as CSV, check them (a dry run) and import them, all or nothing. The same as
`flask fleet import` (`cli.py`)."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

staff = Blueprint("staff", __name__, url_prefix="/operacion/importar")
require_roles(staff, {Role.STAFF, Role.MANAGER, Role.ADMIN})
bp = Blueprint("imports", __name__)
bp.register_blueprint(staff)
