"""The charger registry (admin): register a charger with its connectors (its password
generated and shown once), approve or refuse chargers that registered themselves, and
id tags per driver (assign, deactivate, reactivate)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session
from portal.htmx import render
from portal.models import Charger, ConnectorType, OcppVersion
from portal.services import N_, DomainError, fleet
from portal.services.charging import registry as charger_registry
from portal.web.kit import form_action, submitted_status

from . import admin
from .forms import ApprovalForm, ChargerForm, ConfirmForm, TagForm


def _depots() -> list[SelectChoice]:
    return [SelectChoice(d.id, d.name) for d in fleet.list_depots(Session())]


def _approval_form() -> ApprovalForm:
    form = ApprovalForm()
    form.depot.choices = _depots()
    return form


def _charger_form() -> ChargerForm:
    form = ChargerForm()
    form.depot.choices = _depots()
    return form


def _registry(
    form: ChargerForm, status: int = 200, error: str | None = None, **extra: Any
) -> Response:
    return render(
        "charging/admin_chargers.html",
        "register",
        status=status,
        form=form,
        error=error,
        approval=_approval_form(),
        chargers=charger_registry.list_registry(Session()),
        **extra,
    )


def _connectors(form: ChargerForm) -> list[tuple[int, ConnectorType, Decimal | None]]:
    """The EVSEs typed in, numbered in order (a row without a type is skipped)."""
    rows = [r for r in form.connectors if r.connector_type.data]
    if not rows:
        raise DomainError(N_("Give at least one connector."))
    return [
        (
            evse_id,
            charger_registry.parse_connector_type(row.connector_type.data),
            charger_registry.parse_kw(row.max_kw.data),
        )
        for evse_id, row in enumerate(rows, start=1)
    ]


@admin.route("/cargadores", methods=["GET", "POST"])
def chargers() -> Response:
    form = _charger_form()
    if request.method == "POST" and form.validate():
        with form_action() as action:
            charger, password = charger_registry.register_charger(
                Session(),
                identity=form.identity.data or "",
                depot_id=form.depot.data,
                connectors=_connectors(form),
                secret_key=current_app.config["CHARGER_SECRET_KEY"],
                name=form.name.data or None,
                actor_id=current_user.id,
            )
            charger.ocpp_version = OcppVersion(form.ocpp_version.data)
        if action.ok:
            # The password is shown once, in this answer (not a redirect: it must not
            # travel in the session cookie) and never stored in the clear.
            response = _registry(_charger_form(), registered=charger, password=password)
            response.headers["Cache-Control"] = "no-store"
            return response
        return _registry(form, 422, error=action.error)
    return _registry(form, submitted_status(form))


@admin.post("/cargadores/<int:charger_id>/<any(aprobar, rechazar):decision>")
def decide_charger(charger_id: int, decision: str) -> Response:
    session = Session()
    form = _approval_form()
    if not form.validate():
        abort(400)
    if session.get(Charger, charger_id) is None:
        abort(404)
    with form_action() as action:
        if decision == "aprobar":
            charger = charger_registry.approve_charger(
                session, charger_id, depot_id=form.depot.data or None, actor_id=current_user.id
            )
        else:
            charger = charger_registry.reject_charger(session, charger_id, actor_id=current_user.id)
    if not action.ok:
        return _registry(_charger_form(), 422, error=action.error)
    if decision == "aprobar":
        flash(_("Charger %(identity)s approved.", identity=charger.identity), "success")
    else:
        flash(_("Charger %(identity)s refused.", identity=charger.identity), "success")
    return redirect(url_for("charging.admin.chargers"), 303)


def _tags_page(form: TagForm, status: int = 200, **extra: Any) -> Response:
    query = request.args.get("q", "")[:50]
    return render(
        "charging/admin_tags.html",
        "tags",
        status=status,
        form=form,
        toggle=ConfirmForm(),
        query=query,
        tags=charger_registry.list_tags(Session(), query),
        **extra,
    )


@admin.route("/tarjetas", methods=["GET", "POST"])
def tags() -> Response:
    form = TagForm()
    if request.method == "POST" and form.validate():
        driver = charger_registry.find_driver(Session(), form.driver.data or "")
        if driver is None:
            form.driver.errors = [_("No driver has that mobile number or CURP.")]
            return _tags_page(form, 422)
        with form_action(form, "tag") as action:
            id_tag = charger_registry.add_id_tag(
                Session(), driver.id, form.tag.data or "", actor_id=current_user.id
            )
        if action.ok:
            message = _("Card %(tag)s assigned to %(name)s.", tag=id_tag.tag, name=driver.full_name)
            flash(message, "success")
            return redirect(url_for("charging.admin.tags"), 303)
    return _tags_page(form, submitted_status(form))


@admin.post("/tarjetas/<int:tag_id>/<any(desactivar, activar):change>")
def toggle_tag(tag_id: int, change: str) -> Response:
    session = Session()
    if not ConfirmForm().validate():
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
    return redirect(url_for("charging.admin.tags"), 303)
