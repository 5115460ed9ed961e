"""The charger registry (admin): register a charger with its connectors (its password
generated and shown once), approve or refuse chargers that registered themselves, and
id tags per driver (assign, deactivate, reactivate).

Registered on the admin blueprint (imported at the end of `views.py`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from portal.db import Session
from portal.htmx import render
from portal.models import Charger, ConnectorType, OcppVersion
from portal.services import N_, DomainError, charger_registry, charging, fleet

from .views import bp

CONNECTOR_CHOICES = [
    SelectChoice("", _l("None")),
    SelectChoice(ConnectorType.CCS2.value, "CCS2"),
    SelectChoice(ConnectorType.GBT.value, "GB/T"),
]


class ConnectorForm(Form):
    """One EVSE of the charger (numbered in order); a row without a type is skipped."""

    connector_type = SelectField(_l("Type"), choices=CONNECTOR_CHOICES, validators=[Optional()])
    max_kw = StringField(_l("Max. kW"), validators=[Optional(), Length(max=8)])


class ChargerForm(FlaskForm):
    identity = StringField(
        _l("OCPP identity"),
        validators=[DataRequired(message=_l("Write the charger's identity.")), Length(max=48)],
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    depot = SelectField(_l("Depot"), coerce=int, validators=[DataRequired()])
    ocpp_version = SelectField(
        _l("OCPP version"),
        choices=[
            SelectChoice(OcppVersion.V16.value, "1.6J"),
            SelectChoice(OcppVersion.V201.value, "2.0.1"),
        ],
    )
    connectors = FieldList(FormField(ConnectorForm), min_entries=4, max_entries=4)


class TagForm(FlaskForm):
    driver = StringField(
        _l("Driver (mobile number or CURP)"),
        validators=[DataRequired(message=_l("Write the driver's mobile number or CURP."))],
    )
    tag = StringField(
        _l("Card (id tag)"),
        validators=[DataRequired(message=_l("Write the card's id tag."))],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


class ToggleForm(FlaskForm):
    """Only the CSRF token."""


class ApprovalForm(FlaskForm):
    """Approve (placing the charger in a depot) or refuse a charger."""

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()], validate_choice=False)


def _charger_form() -> ChargerForm:
    form = ChargerForm()
    form.depot.choices = [SelectChoice(d.id, d.name) for d in fleet.list_depots(Session())]
    return form


def _approval_form() -> ApprovalForm:
    form = ApprovalForm()
    form.depot.choices = [SelectChoice(d.id, d.name) for d in fleet.list_depots(Session())]
    return form


def _registry(
    form: ChargerForm, status: int = 200, error: str | None = None, **extra: Any
) -> Response:
    return render(
        "admin/chargers.html",
        "register",
        status=status,
        form=form,
        error=error,
        approval=_approval_form(),
        chargers=charger_registry.list_registry(Session()),
        **extra,
    )


@bp.route("/cargadores", methods=["GET", "POST"])
def chargers() -> Response:
    session = Session()
    form = _charger_form()
    if request.method == "GET":
        return _registry(form)
    if not form.validate():
        return _registry(form, 422)
    try:
        connectors = []
        for evse_id, row in enumerate(
            (r for r in form.connectors if r.connector_type.data), start=1
        ):
            kind = charger_registry.parse_connector_type(row.connector_type.data)
            connectors.append((evse_id, kind, charger_registry.parse_kw(row.max_kw.data)))
        if not connectors:
            raise DomainError(N_("Give at least one connector."))
        charger, password = charging.register_charger(
            session,
            identity=form.identity.data or "",
            depot_id=form.depot.data,
            connectors=connectors,
            secret_key=current_app.config["CHARGER_SECRET_KEY"],
            name=form.name.data or None,
            actor_id=current_user.id,
        )
        charger.ocpp_version = OcppVersion(form.ocpp_version.data)
    except DomainError as exc:
        session.rollback()
        return _registry(form, 422, error=_(exc.message, **exc.params))
    session.commit()
    # The password is shown once, in this answer (not a redirect: it must not travel in
    # the session cookie) and never stored in the clear.
    response = _registry(_charger_form(), registered=charger, password=password)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/cargadores/<int:charger_id>/<any(aprobar, rechazar):decision>")
def decide_charger(charger_id: int, decision: str) -> Response:
    session = Session()
    form = _approval_form()
    if not form.validate():
        abort(400)
    if session.get(Charger, charger_id) is None:
        abort(404)
    try:
        if decision == "aprobar":
            charger = charging.approve_charger(
                session, charger_id, depot_id=form.depot.data or None, actor_id=current_user.id
            )
        else:
            charger = charging.reject_charger(session, charger_id, actor_id=current_user.id)
    except DomainError as exc:
        session.rollback()
        return _registry(_charger_form(), 422, error=_(exc.message, **exc.params))
    session.commit()
    if decision == "aprobar":
        flash(_("Charger %(identity)s approved.", identity=charger.identity), "success")
    else:
        flash(_("Charger %(identity)s refused.", identity=charger.identity), "success")
    return redirect(url_for("admin.chargers"), 303)


def _tags_page(form: TagForm, status: int = 200, **extra: Any) -> Response:
    query = request.args.get("q", "")[:50]
    return render(
        "admin/tags.html",
        "tags",
        status=status,
        form=form,
        toggle=ToggleForm(),
        query=query,
        tags=charger_registry.list_tags(Session(), query),
        **extra,
    )


@bp.route("/tarjetas", methods=["GET", "POST"])
def tags() -> Response:
    session = Session()
    form = TagForm()
    if request.method == "GET":
        return _tags_page(form)
    if not form.validate():
        return _tags_page(form, 422)
    driver = charger_registry.find_driver(session, form.driver.data or "")
    if driver is None:
        form.driver.errors = [_("No driver has that mobile number or CURP.")]
        return _tags_page(form, 422)
    try:
        id_tag = charging.add_id_tag(
            session, driver.id, form.tag.data or "", actor_id=current_user.id
        )
    except DomainError as exc:
        session.rollback()
        form.tag.errors = [_(exc.message, **exc.params)]
        return _tags_page(form, 422)
    session.commit()
    flash(_("Card %(tag)s assigned to %(name)s.", tag=id_tag.tag, name=driver.full_name), "success")
    return redirect(url_for("admin.tags"), 303)


@bp.post("/tarjetas/<int:tag_id>/<any(desactivar, activar):change>")
def toggle_tag(tag_id: int, change: str) -> Response:
    session = Session()
    if not ToggleForm().validate():
        abort(400)
    try:
        id_tag = charger_registry.set_tag_active(
            session, tag_id, change == "activar", actor_id=current_user.id
        )
    except DomainError:
        abort(404)
    session.commit()
    if id_tag.active:
        flash(_("Card %(tag)s is active again.", tag=id_tag.tag), "success")
    else:
        flash(_("Card %(tag)s deactivated: chargers will refuse it.", tag=id_tag.tag), "success")
    return redirect(url_for("admin.tags"), 303)
