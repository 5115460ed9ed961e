"""Log-in, log-out, password change and the language switch."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal import limits, sessions
from portal.db import Session
from portal.htmx import render
from portal.i18n import LOCALE_COOKIE
from portal.redirects import safe_next
from portal.security import client_ip, roles_home
from portal.services import DomainError, accounts
from portal.web.kit import error_text, form_action, submitted_status

from . import bp
from .forms import LanguageForm, LoginForm, PasswordChangeForm


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for(roles_home(current_user)))
    return redirect(url_for("auth.login"))


@bp.route("/entrar", methods=["GET", "POST"])
@limits.login_limits
def login() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for(roles_home(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render("auth/login.html", status=submitted_status(form), form=form)
    try:
        user = accounts.authenticate(
            Session(),
            form.identifier.data or "",
            form.password.data or "",
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            lockout=timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]),
            others=limits.lockouts(),
        )
    except DomainError as error:
        Session.commit()  # keep the failure count
        form.password.errors = [error_text(error)]
        page = render("auth/login.html", status=422, form=form)
        if isinstance(error, accounts.AccountLocked):
            limits.too_many_requests(page, error.retry_after)
        return page
    Session.commit()
    sessions.start(user)
    return redirect(safe_next(form.next.data) or url_for(roles_home(user)), code=303)


@bp.post("/salir")
@login_required
def logout() -> Response:
    sessions.end()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/salir/todas")
@login_required
def logout_everywhere() -> Response:
    accounts.end_sessions(current_user)
    Session.commit()
    sessions.end()
    flash(_("You have logged out on every device."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/cuenta/contrasena", methods=["GET", "POST"])
@login_required
def change_password() -> Response:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        with form_action(form, "current") as action:
            accounts.change_password(
                Session(), current_user, form.current.data or "", form.new.data or "", client_ip()
            )
        if action.ok:
            sessions.restamp(current_user)  # this session stays; every other one has ended
            flash(_("Your password was changed."), "success")
            return redirect(url_for(roles_home(current_user)), code=303)
    return render(
        "auth/password.html",
        status=submitted_status(form),
        form=form,
        min_length=accounts.MIN_PASSWORD_LENGTH,
    )


@bp.post("/idioma")
def set_language() -> Response:
    form = LanguageForm()
    target = safe_next(form.next.data) or url_for("auth.index")
    if not form.validate_on_submit():
        return redirect(target, code=303)
    locale = form.locale.data or current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated:
        accounts.set_locale(Session(), current_user, locale)
        Session.commit()
    response = redirect(target, code=303)
    response.set_cookie(
        LOCALE_COOKIE,
        locale,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    refresh()
    return response
