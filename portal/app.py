"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal import db, htmx, i18n, security, web
from portal.config import ROOT, check_payments, check_production, load_config
from workers import queues

log = logging.getLogger(__name__)


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

    # A process binds its sessions once: here, to DATABASE_URL, unless something bound
    # them first (the tests bind them to their own database before building the app).
    if not db.is_bound():
        db.configure(app.config["DATABASE_URL"])
    app.teardown_appcontext(_remove_session)
    queues.configure(app.config["REDIS_URL"], app_factory=lambda: app)

    i18n.init_app(app)
    security.init_app(app)
    htmx.htmx.init_app(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    web.init_app(app)

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
