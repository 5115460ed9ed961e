"""The application factory."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal import db, htmx, i18n, security
from portal.config import ROOT, check_payments, check_production, load_config
from workers import queues

log = logging.getLogger(__name__)
RECORDS = ("users", "depots", "vehicles", "drivers", "contracts", "imports")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    check_production(app.config)
    check_payments(app.config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")

    if not app.config.get("SKIP_DB_CONFIGURE"):
        db.configure(app.config["DATABASE_URL"])
    app.teardown_appcontext(_remove_session)
    queues.configure(app.config["REDIS_URL"], app_factory=lambda: app)

    i18n.init_app(app)
    security.init_app(app)
    htmx.htmx.init_app(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    from portal.admin.views import bp as admin_bp
    from portal.auth.views import bp as auth_bp
    from portal.credit.apply import bp as credit_apply_bp
    from portal.credit.views import bp as credit_bp
    from portal.credit.views import models_bp as credit_models_bp
    from portal.credit.views import policy_bp as credit_policy_bp
    from portal.driver.views import bp as driver_bp
    from portal.incidents import views as incidents
    from portal.manager.views import bp as manager_bp
    from portal.staff.views import bp as staff_bp
    from portal.webhooks.views import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(driver_bp, url_prefix="/conductor")
    app.register_blueprint(staff_bp, url_prefix="/operacion")
    app.register_blueprint(manager_bp, url_prefix="/gerencia")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    app.register_blueprint(credit_bp, url_prefix="/operacion/credito")
    app.register_blueprint(credit_policy_bp, url_prefix="/gerencia/credito")
    app.register_blueprint(credit_models_bp, url_prefix="/admin/modelos")
    app.register_blueprint(credit_apply_bp, url_prefix="/solicitud")
    security.csrf.exempt(webhooks_bp)  # signed by the provider instead; nothing else is exempt
    app.register_blueprint(incidents.driver_bp, url_prefix="/conductor/incidentes")
    app.register_blueprint(incidents.staff_bp, url_prefix="/operacion/incidentes")
    app.register_blueprint(incidents.manager_bp, url_prefix="/gerencia/incidentes")

    # The operator's records (users, depots, vehicles, drivers, contracts, imports):
    # each package's __init__ makes its blueprints, its views module adds the routes.
    for name in RECORDS:
        package = import_module(f"portal.web.{name}")
        import_module(f"portal.web.{name}.views")
        app.register_blueprint(package.bp)

    _register_error_pages(app)

    from portal.cli import register_commands

    register_commands(app)
    return app


def _remove_session(exc: BaseException | None) -> None:
    db.Session.remove()


ERROR_TITLES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("We could not find this page."),
    405: _l("This action is not allowed here."),
    413: _l("The file is too large."),
    422: _l("Some of the data is not valid."),
    500: _l("Something went wrong on our side."),
}


def _register_error_pages(app: Flask) -> None:
    def render_error(status: int, message: str | None = None) -> Response:
        page = render_template(
            "errors/error.html",
            status=status,
            title=ERROR_TITLES.get(status, ERROR_TITLES[500]),
            message=message,
        )
        return app.make_response((page, status))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if request.path.startswith("/static/"):
            return app.make_response((exc.description or "", status))
        return render_error(status)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return render_error(400, _("The form expired. Reload the page and try again."))

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.path)
        db.Session.rollback()
        return render_error(500)
