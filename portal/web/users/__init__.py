"""Users and access (admins, a desktop): the list, create, change role, deactivate,
unlock, hand over a reset code; and, for everyone on the log-in page, "¿Olvidaste tu
contraseña?" and setting a new password with a code or a link."""

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

admin = Blueprint("admin", __name__, url_prefix="/admin/usuarios")
require_roles(admin, {Role.ADMIN})
public = Blueprint("public", __name__, url_prefix="/entrar")
bp = Blueprint("users", __name__)
bp.register_blueprint(admin)
bp.register_blueprint(public)
