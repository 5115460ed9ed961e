"""The driver's pages, made for a phone."""

from __future__ import annotations

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles

bp = Blueprint("driver", __name__)
require_roles(bp, [Role.DRIVER])


from . import charging  # noqa: E402,F401 - registers the charging pages on bp
