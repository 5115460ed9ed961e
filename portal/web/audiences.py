"""Who a page is for: its URL prefix and the roles that may open it, in one table.

Every feature package (`portal.web.<feature>`) makes one blueprint per audience it
serves with `audience(...)` and groups them under its own blueprint with `feature(...)`,
so an endpoint reads `<feature>.<audience>.<view>` (`charging.driver.book`) and a URL
keeps its audience's prefix (`/conductor/cargar/reservar`). A new role rule is a change
to `AUDIENCES` (and to the access test, `tests/web/test_access.py`).
"""

from __future__ import annotations

from typing import NamedTuple

from flask import Blueprint

from portal.models import Role
from portal.security import require_roles


class Audience(NamedTuple):
    prefix: str
    roles: frozenset[Role]


STAFF_ROLES = frozenset({Role.STAFF, Role.MANAGER, Role.ADMIN})
MANAGER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})

AUDIENCES = {
    "driver": Audience("/conductor", frozenset({Role.DRIVER})),  # a phone
    "staff": Audience("/operacion", STAFF_ROLES),  # a tablet at the depot
    "manager": Audience("/gerencia", MANAGER_ROLES),  # a desktop
    "admin": Audience("/admin", frozenset({Role.ADMIN})),
}


def audience(name: str, path: str = "") -> Blueprint:
    """The blueprint of one audience of a feature, under its prefix (plus `path`),
    open to its roles only (403 for the others, the log-in page for anonymous)."""
    prefix, roles = AUDIENCES[name]
    blueprint = Blueprint(name, __name__, url_prefix=prefix + path)
    require_roles(blueprint, roles)
    return blueprint


def feature(name: str, *audiences: Blueprint) -> Blueprint:
    """A feature's blueprint: its audiences' blueprints under the feature's name."""
    blueprint = Blueprint(name, __name__)
    for child in audiences:
        blueprint.register_blueprint(child)
    return blueprint
