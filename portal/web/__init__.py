"""The web layer: one package per feature, each with its audience blueprints
(`portal.web.audiences`), `views.py`, `forms.py` and, where a page needs them,
presenters; plus the small kit every view uses (`portal.web.kit`), the labels every
feature shows (`portal.web.labels`) and the one charts module (`portal.web.charts`).

A feature package's `__init__` makes its blueprints; its `views` module adds the
routes. No feature imports another's package.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask

from portal.security import csrf

FEATURES = (
    "auth",
    "account",
    "payments",
    "charging",
    "fleet",
    "incidents",
    "credit",
    "dashboard",
    "admin",
    "webhooks",
    # The operator's records.
    "users",
    "depots",
    "vehicles",
    "drivers",
    "contracts",
    "imports",
)


def init_app(app: Flask) -> None:
    """Register every feature's blueprint, its routes loaded from its `views` module."""
    for name in FEATURES:
        package = import_module(f"portal.web.{name}")
        import_module(f"portal.web.{name}.views")
        app.register_blueprint(package.bp)
    # The records' commands: `flask fleet import …`, `flask users create …`.
    from portal.web.imports.cli import register_fleet_commands
    from portal.web.users.cli import register_user_commands

    register_fleet_commands(app)
    register_user_commands(app)
    # Signed by the provider instead; nothing else is exempt.
    csrf.exempt(import_module("portal.web.webhooks").bp)
