"""The depot's chargers (tablet): live status, the session on each connector, the day's
bookings, start/stop/unlock with a confirmation step, and a charger's command log.

Registered on the staff blueprint (imported at the end of `views.py`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Optional

from portal.db import Session, utcnow
from portal.htmx import render
from portal.models import ChargerCommand, ChargingSession, CommandAction, CommandStatus, Role
from portal.services import N_, DomainError, bookings, charging_board, fleet
from portal.services.charging import (
    get_command,
    list_charger_events,
    list_commands,
    request_command,
    review_session,
    sessions_to_review,
)
from workers.ocpp import enqueue_command

from .views import bp

BOARD_ACTIONS = {
    CommandAction.REMOTE_START: _l("Start charging"),
    CommandAction.REMOTE_STOP: _l("Stop charging"),
    CommandAction.UNLOCK_CONNECTOR: _l("Unlock the connector"),
}

COMMAND_LABELS = {
    CommandStatus.QUEUED: _l("Queued"),
    CommandStatus.SENT: _l("Sent"),
    CommandStatus.ACCEPTED: _l("Accepted"),
    CommandStatus.REJECTED: _l("Rejected"),
    CommandStatus.FAILED: _l("Failed"),
}


class ReviewForm(FlaskForm):
    """A session waiting for review: bill it (held ones) or only mark it reviewed."""

    decision = HiddenField(validators=[AnyOf(["bill", "dismiss"])])


class DepotForm(FlaskForm):
    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[Optional()])


class CommandForm(FlaskForm):
    action = HiddenField(
        validators=[
            DataRequired(),
            AnyOf([a.value for a in BOARD_ACTIONS], message=_l("Unknown command.")),
        ]
    )
    evse_id = IntegerField(validators=[Optional()])
    session_id = IntegerField(validators=[Optional()])
    id_tag = StringField(
        _l("Driver's card (id tag)"),
        validators=[Optional()],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )


def _board_context() -> dict[str, Any]:
    session = Session()
    depots = fleet.list_depots(session)
    form = DepotForm(request.args)
    form.depot.choices = [SelectChoice(d.id, d.name) for d in depots]
    if not form.validate() or form.depot.data not in {d.id for d in depots}:
        form.depot.data = depots[0].id if depots else None
    depot = next((d for d in depots if d.id == form.depot.data), None)
    now = utcnow()
    board = charging_board.depot_board(session, depot.id, now) if depot else []
    day_bookings = (
        bookings.list_depot_bookings(session, depot.id, bookings.bookable_days(depot, now)[0])
        if depot
        else []
    )
    return {
        "form": form,
        "depot": depot,
        "board": board,
        "day_bookings": day_bookings,
        "now": now,
        "online_count": sum(1 for c in board if c.online),
    }


@bp.get("/cargadores")
def chargers() -> Response:
    return render("staff/chargers.html", "board", **_board_context())


def _charger_or_404(charger_id: int):  # type: ignore[no-untyped-def]
    charger = charging_board.get_charger(Session(), charger_id)
    if charger is None:
        abort(404)
    return charger


@bp.get("/cargadores/<int:charger_id>")
def charger_detail(charger_id: int) -> Response:
    session = Session()
    charger = _charger_or_404(charger_id)
    now = utcnow()
    board = charging_board.depot_board(session, charger.depot_id, now) if charger.depot_id else []
    view = next((v for v in board if v.charger.id == charger.id), None)
    return render(
        "staff/charger_detail.html",
        "detail",
        charger=charger,
        view=view,
        online=charger.is_online(now),
        commands=list_commands(session, charger.id, limit=30),
        command_labels=COMMAND_LABELS,
        sessions=charging_board.recent_sessions(session, charger.id),
        to_review=sessions_to_review(session, charger.id),
        review_form=ReviewForm(),
        can_review=current_user.role in (Role.MANAGER, Role.ADMIN),
        events=list_charger_events(session, charger.id),
    )


@bp.post("/cargadores/<int:charger_id>/sesiones/<int:session_id>/revision")
def review_charging_session(charger_id: int, session_id: int) -> Response:
    """A manager's decision on a lost or held session (billing is a money decision)."""
    if current_user.role not in (Role.MANAGER, Role.ADMIN):
        abort(403)
    session = Session()
    charger = _charger_or_404(charger_id)
    charging_session = session.get(ChargingSession, session_id)
    if charging_session is None or charging_session.charger_id != charger.id:
        abort(404)
    form = ReviewForm()
    try:
        if not form.validate():
            raise DomainError(N_("Choose what to do with the session."))
        review_session(
            session, session_id, bill=form.decision.data == "bill", actor_id=current_user.id
        )
    except DomainError as exc:
        session.rollback()
        flash(_(exc.message, **exc.params), "error")
    else:
        session.commit()
        flash(_("Session reviewed."), "success")
    return redirect(url_for("staff.charger_detail", charger_id=charger.id), 303)


def _command_page(charger, form: CommandForm, *, status: int = 200, **extra: Any) -> Response:  # type: ignore[no-untyped-def]
    return render(
        "staff/charger_command.html",
        "panel",
        status=status,
        charger=charger,
        form=form,
        actions=BOARD_ACTIONS,
        **({"command": None, "error": None} | extra),
    )


@bp.route("/cargadores/<int:charger_id>/comando", methods=["GET", "POST"])
def charger_command(charger_id: int) -> Response:
    """GET: the confirmation for an action on a connector; POST: send it."""
    session = Session()
    charger = _charger_or_404(charger_id)
    if request.method == "POST":
        form = CommandForm()
    else:  # the confirmation step: a GET, so no CSRF token to check yet
        form = CommandForm(request.args, meta={"csrf": False})
    if not form.validate():
        return _command_page(charger, form, status=422, error=_("Choose an action."))
    if request.method == "GET":
        return _command_page(charger, form)
    params = {
        CommandAction.REMOTE_START: {"id_tag": form.id_tag.data, "evse_id": form.evse_id.data},
        CommandAction.REMOTE_STOP: {"session_id": form.session_id.data},
        CommandAction.UNLOCK_CONNECTOR: {"evse_id": form.evse_id.data},
    }[CommandAction(form.action.data)]
    try:
        command = request_command(
            session, charger.id, form.action.data, params, requested_by_id=current_user.id
        )
    except DomainError as exc:
        session.rollback()
        return _command_page(charger, form, status=422, error=_(exc.message, **exc.params))
    session.commit()
    enqueue_command(command)
    return _command_progress(charger, command)


def _command_progress(charger, command: ChargerCommand) -> Response:  # type: ignore[no-untyped-def]
    return render(
        "staff/charger_command_status.html",
        "status",
        charger=charger,
        command=command,
        actions=BOARD_ACTIONS,
        poll_url=url_for(
            "staff.charger_command_status", charger_id=charger.id, command_id=command.id
        ),
    )


@bp.get("/cargadores/<int:charger_id>/comandos/<int:command_id>")
def charger_command_status(charger_id: int, command_id: int) -> Response:
    """A command's progress; htmx polls it until the charger answers."""
    charger = _charger_or_404(charger_id)
    command = get_command(Session(), command_id, charger_id=charger.id)
    if command is None:
        abort(404)
    return _command_progress(charger, command)
