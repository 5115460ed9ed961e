"""Depot staff's pages, made for a tablet."""

from __future__ import annotations

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

bp = Blueprint("staff", __name__)
require_roles(bp, [Role.STAFF, Role.MANAGER, Role.ADMIN])


from . import charging  # noqa: E402,F401 - registers the charger pages on bp
