"""Users and access: the admin's pages, and the way back in from the log-in page."""

from __future__ import annotations

from flask import abort, current_app, flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import limits
from portal.db import Session
from portal.htmx import render
from portal.models import Role, User
from portal.security import client_ip
from portal.services import DomainError, resets, users
from portal.sms import build_sms_client
from portal.web.kit import done, error_text, form_action, submitted_status

from . import admin, public
from .forms import (
    ROLE_LABELS,
    CodeForm,
    CodeResetForm,
    ForgotForm,
    LinkResetForm,
    ReasonForm,
    RoleForm,
    UserForm,
)


def sms_text(code: str) -> str:
    return _(
        "LAFA: your code to set a new password is %(code)s. It expires in 30 minutes. "
        "Do not share it.",
        code=code,
    )


def _user(user_id: int) -> User:
    user = Session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _detail(user: User, status: int = 200, **forms: object) -> Response:
    context = {
        "user": user,
        "role_labels": ROLE_LABELS,
        "role_form": forms.get("role_form") or RoleForm(role=user.role.value),
        "reason_form": forms.get("reason_form") or ReasonForm(),
        "code_form": CodeForm(),
        "issued": forms.get("issued"),
        "error": forms.get("error"),
    }
    return render("users/detail.html", status=status, **context)


@admin.route("", methods=["GET", "POST"])
def index() -> Response:
    form = UserForm()
    if form.validate_on_submit():
        data = users.NewUser(form.email.data or "", form.full_name.data or "", Role(form.role.data))
        with form_action(form) as action:
            user = users.create_user(Session(), data, actor=current_user, ip=client_ip())
        if action.ok:
            flash(_("Account created. Give the person a code to set their password."), "success")
            return done(url_for("users.admin.detail", user_id=user.id))
    return render(
        "users/list.html",
        status=submitted_status(form),
        form=form,
        people=users.list_users(Session()),
        role_labels=ROLE_LABELS,
    )


@admin.get("/<int:user_id>")
def detail(user_id: int) -> Response:
    return _detail(_user(user_id))


@admin.post("/<int:user_id>/rol")
def change_role(user_id: int) -> Response:
    user = _user(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        with form_action(form, "role") as action:
            users.change_role(
                Session(), user, Role(form.role.data), actor=current_user, ip=client_ip()
            )
        if action.ok:
            return done(url_for("users.admin.detail", user_id=user.id))
    return _detail(user, 422, role_form=form)


@admin.post("/<int:user_id>/<any(desactivar, reactivar, desbloquear):change>")
def change_access(user_id: int, change: str) -> Response:
    user = _user(user_id)
    form = ReasonForm()
    action_fn = {
        "desactivar": lambda: users.deactivate(
            Session(), user, actor=current_user, reason=form.reason.data or "", ip=client_ip()
        ),
        "reactivar": lambda: users.reactivate(Session(), user, actor=current_user, ip=client_ip()),
        "desbloquear": lambda: users.unlock(Session(), user, actor=current_user, ip=client_ip()),
    }[change]
    if form.validate_on_submit():
        with form_action(form, "reason") as action:
            action_fn()
        if action.ok:
            return done(url_for("users.admin.detail", user_id=user.id))
    return _detail(user, 422, reason_form=form)


@admin.post("/<int:user_id>/codigo")
def issue_code(user_id: int) -> Response:
    """A code and link shown once, here, to hand to the person (never in a URL)."""
    user = _user(user_id)
    form = CodeForm()
    if not form.validate_on_submit():
        return _detail(user, 422)
    with form_action() as action:
        issued = resets.issue_reset(Session(), user, actor=current_user, ip=client_ip())
    if not action.ok:
        return _detail(user, 422, error=action.error)
    link = url_for("users.public.link", token=issued.token, _external=True)
    return _detail(user, issued={"code": issued.code, "link": link})


# --------------------------------------------------------------------------- log-in page


@public.route("/olvide", methods=["GET", "POST"])
@limits.reset_code_limits
def forgot() -> Response | tuple[str, int] | str:
    """A code by SMS to the driver's phone; the same answer whether or not it exists."""
    form = ForgotForm()
    sms = build_sms_client(current_app.config)
    if not form.validate_on_submit():
        return render_template("users/forgot.html", form=form, sms=sms), submitted_status(form)
    if sms is None:
        return render_template("users/forgot.html", form=form, sms=None, off=True), 200
    session = Session()
    try:
        issued = resets.request_reset(
            session, form.phone.data or "", sms=sms, message=sms_text, ip=client_ip()
        )
    except DomainError as error:
        session.rollback()
        form.phone.errors = [error_text(error)]
        return render_template("users/forgot.html", form=form, sms=sms), 422
    session.commit()
    shown = issued.code if issued is not None and issued.shown_on_screen else None
    return render_template(
        "users/forgot_sent.html",
        code_form=CodeResetForm(identifier=form.phone.data),
        demo_code=shown,
    )


@public.route("/codigo", methods=["GET", "POST"])
@limits.reset_code_limits
def code() -> Response | tuple[str, int] | str:
    form = CodeResetForm()
    if form.validate_on_submit():
        with form_action(form, "code") as action:
            resets.reset_with_code(
                Session(),
                form.identifier.data or "",
                form.code.data or "",
                form.new.data or "",
                ip=client_ip(),
            )
        if action.ok:
            flash(_("Your password was changed. Log in with it."), "success")
            return done(url_for("auth.login"))
    return render_template("users/code.html", form=form), submitted_status(form)


@public.route("/restablecer/<token>", methods=["GET", "POST"])
@limits.reset_code_limits
def link(token: str) -> Response | tuple[str, int] | str:
    form = LinkResetForm(token=token)
    if form.validate_on_submit():
        with form_action(form, "new") as action:
            resets.reset_with_token(Session(), token, form.new.data or "", ip=client_ip())
        if action.ok:
            flash(_("Your password was changed. Log in with it."), "success")
            return done(url_for("auth.login"))
        return render_template("users/link.html", form=form), 422
    try:
        resets.reset_for_token(Session(), token)
    except DomainError as error:
        return render_template("users/link.html", form=None, error=error_text(error)), 404
    return render_template("users/link.html", form=form), submitted_status(form)
