"""A contract's life: staff propose, sign, record the handover, lend a replacement,
suspend, complete (a tablet); managers sign off terms and end a contract early (a
desktop); the driver sees their contract and confirms the handover (a phone)."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

STAFF = {Role.STAFF, Role.MANAGER, Role.ADMIN}
staff = Blueprint("staff", __name__, url_prefix="/operacion/contratos")
require_roles(staff, STAFF)
manager = Blueprint("manager", __name__, url_prefix="/gerencia/contratos")
require_roles(manager, {Role.MANAGER, Role.ADMIN})
driver = Blueprint("driver", __name__, url_prefix="/conductor/contrato")
require_roles(driver, {Role.DRIVER})
bp = Blueprint("contracts", __name__)
for child in (staff, manager, driver):
    bp.register_blueprint(child)
