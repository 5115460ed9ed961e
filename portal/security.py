"""Log-in plumbing, role checks and the security headers every response carries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import limits, sessions
from portal.db import Session
from portal.models import Role, User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "info"
# Off: it hashed the client-supplied X-Forwarded-For; portal.sessions checks instead.
login_manager.session_protection = None
login_manager.unauthorized_handler(sessions.unauthorized)
csrf = CSRFProtect()


def content_security_policy(img_origins: Iterable[str] = ()) -> str:
    """The CSP: this origin only, plus any image origins (a configured map tile server)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(["img-src 'self' data:", *img_origins]),
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Tile servers with {s} subdomains (a.tile…, b.tile…): allow them all.
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


CSP = content_security_policy()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, if the session is still theirs (version, timeouts)."""
    user = Session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or not sessions.is_current(user):
        return None
    return user


#: The roles each blueprint requires (`require_roles`), for checks made before the
#: blueprint's own `before_request` runs (`_upload_limit`).
_BLUEPRINT_ROLES: dict[Blueprint, frozenset[Role]] = {}


def require_roles(blueprint: Blueprint, roles: Iterable[Role]) -> None:
    """Every view of `blueprint` needs a logged-in user with one of `roles` (else 403)."""
    allowed = frozenset(roles)
    _BLUEPRINT_ROLES[blueprint] = allowed

    @blueprint.before_request
    def _check_role() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in allowed:
            abort(403)
        return None


def client_ip() -> str | None:
    return request.remote_addr


#: Browsers that saw it over HTTPS refuse plain HTTP to this host for a year.
HSTS = "max-age=31536000; includeSubDomains"


class SessionInterface(SecureCookieSessionInterface):
    """Over HTTPS the session cookie is `__Host-<name>`: a browser accepts such a cookie
    only with Secure, Path=/ and no Domain, so a sibling subdomain or a plain-HTTP page
    cannot plant or overwrite it. Over plain HTTP (a developer's machine) the name is
    as configured. Behind a proxy, `LAFA_PROXY_HOPS` tells the portal it is on HTTPS."""

    def get_cookie_name(self, app: Flask) -> str:
        name = super().get_cookie_name(app)
        return f"__Host-{name}" if _https() else name

    def get_cookie_secure(self, app: Flask) -> bool:
        return _https() or super().get_cookie_secure(app)

    def get_cookie_domain(self, app: Flask) -> str | None:
        return None if _https() else super().get_cookie_domain(app)

    def get_cookie_path(self, app: Flask) -> str:
        return "/" if _https() else super().get_cookie_path(app)


def _https() -> bool:
    return has_request_context() and request.is_secure


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if request.is_secure and current_app.config["ENV"] != "development":
        headers.setdefault("Strict-Transport-Security", HSTS)
    headers.setdefault("Content-Security-Policy", current_app.config.get("CSP", CSP))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


F = TypeVar("F", bound=Callable[..., Any])


def allow_large_uploads(view: F) -> F:
    """Let `view` receive up to UPLOAD_MAX_CONTENT_LENGTH instead of MAX_CONTENT_LENGTH,
    once the user is logged in with a role its blueprint allows.

    The limit must be set before anything reads the body, and CSRF protection reads
    the form in the app's `before_request`: so the mark is read by `_upload_limit`,
    registered before CSRF, which also makes the role check itself (the blueprint's
    runs after CSRF). Anyone else keeps MAX_CONTENT_LENGTH: an anonymous 80 MB body is
    refused before it is read, not parsed and then refused.
    """
    view.allows_large_uploads = True  # type: ignore[attr-defined]
    return view


def _upload_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "allows_large_uploads", False):
        return
    required = [
        _BLUEPRINT_ROLES[blueprint]
        for name in request.blueprints
        if (blueprint := current_app.blueprints.get(name)) in _BLUEPRINT_ROLES
    ]
    if not required or not current_user.is_authenticated:
        return  # no role check to rely on, or nobody logged in: the ordinary limit
    if all(current_user.role in roles for roles in required):
        request.max_content_length = current_app.config["UPLOAD_MAX_CONTENT_LENGTH"]


def init_app(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:  # the client's address and scheme as the proxies in front of us saw them
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.session_interface = SessionInterface()
    app.before_request(_upload_limit)  # before CSRF, which reads the body
    limits.init_app(app)
    tile_origin = _origin(app.config.get("MAP_TILE_URL") or "")
    app.config["CSP"] = content_security_policy([tile_origin] if tile_origin else [])
    login_manager.init_app(app)
    sessions.init_app(app)
    csrf.init_app(app)
    app.after_request(add_security_headers)


def roles_home(user: User) -> str:
    """The endpoint a user lands on after logging in."""
    return {
        Role.DRIVER: "account.driver.home",
        Role.STAFF: "fleet.staff.fleet",
        Role.MANAGER: "dashboard.manager.home",
        Role.ADMIN: "admin.admin.home",
    }[user.role]
