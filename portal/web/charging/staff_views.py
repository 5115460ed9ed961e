"""The depot's chargers (tablet): live status, the session on each connector, the day's
bookings, start/stop/unlock with a confirmation step, and a charger's command log."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session, utcnow
from portal.htmx import render
from portal.models import Charger, ChargerCommand, ChargingSession, CommandAction
from portal.services import fleet
from portal.services.charging import board as charging_board
from portal.services.charging import bookings, smart
from portal.services.charging.commands import get_command, list_commands, request_command
from portal.services.charging.settle import (
    list_charger_events,
    review_session,
    sessions_to_review,
)
from portal.web.audiences import MANAGER_ROLES
from portal.web.kit import form_action
from portal.web.labels import (
    CHARGER_EVENT_LABELS,
    COMMAND_STATUS_LABELS,
    SESSION_STATUS_LABELS,
)

from . import staff
from .commands import send_after_commit
from .forms import BOARD_ACTIONS, CommandForm, DepotForm, ReviewForm
from .presenters import PROFILE_LABELS


@staff.get("")
def board() -> Response:
    session = Session()
    depots = fleet.list_depots(session)
    form = DepotForm(request.args)
    form.depot.choices = [SelectChoice(d.id, d.name) for d in depots]
    if not form.validate() or form.depot.data not in {d.id for d in depots}:
        form.depot.data = depots[0].id if depots else None
    depot = next((d for d in depots if d.id == form.depot.data), None)
    now = utcnow()
    chargers = charging_board.depot_board(session, depot.id, now) if depot else []
    today = bookings.bookable_days(depot, now)[0] if depot else None
    return render(
        "charging/staff_board.html",
        "board",
        form=form,
        depot=depot,
        board=chargers,
        day_bookings=bookings.list_depot_bookings(session, depot.id, today) if depot else [],
        now=now,
        online_count=sum(1 for c in chargers if c.online),
        held=smart.held_back(session, depot.id, now) if depot else {},
        profile_states=smart.session_profiles(session, depot.id) if depot else {},
        profile_labels=PROFILE_LABELS,
    )


def _charger_or_404(charger_id: int) -> Charger:
    charger = charging_board.get_charger(Session(), charger_id)
    if charger is None:
        abort(404)
    return charger


@staff.get("/<int:charger_id>")
def charger(charger_id: int) -> Response:
    session = Session()
    found = _charger_or_404(charger_id)
    now = utcnow()
    chargers = charging_board.depot_board(session, found.depot_id, now) if found.depot_id else []
    return render(
        "charging/staff_charger.html",
        "detail",
        charger=found,
        view=next((v for v in chargers if v.charger.id == found.id), None),
        online=found.is_online(now),
        commands=list_commands(session, found.id, limit=30),
        command_labels=COMMAND_STATUS_LABELS,
        session_labels=SESSION_STATUS_LABELS,
        event_labels=CHARGER_EVENT_LABELS,
        sessions=charging_board.recent_sessions(session, found.id),
        to_review=sessions_to_review(session, found.id),
        review_form=ReviewForm(),
        can_review=current_user.role in MANAGER_ROLES,
        events=list_charger_events(session, found.id),
    )


@staff.post("/<int:charger_id>/sesiones/<int:session_id>/revision")
def review_charging_session(charger_id: int, session_id: int) -> Response:
    """A manager's decision on a lost or held session (billing is a money decision)."""
    if current_user.role not in MANAGER_ROLES:
        abort(403)
    found = _charger_or_404(charger_id)
    charging_session = Session().get(ChargingSession, session_id)
    if charging_session is None or charging_session.charger_id != found.id:
        abort(404)
    form = ReviewForm()
    if not form.validate():
        flash(_("Choose what to do with the session."), "error")
    else:
        with form_action() as action:
            review_session(
                Session(), session_id, bill=form.decision.data == "bill", actor_id=current_user.id
            )
        if action.ok:
            flash(_("Session reviewed."), "success")
        else:
            flash(action.error or "", "error")
    return redirect(url_for("charging.staff.charger", charger_id=found.id), 303)


def _command_page(found: Charger, form: CommandForm, status: int = 200, **extra: Any) -> Response:
    return render(
        "charging/staff_command.html",
        "panel",
        status=status,
        charger=found,
        form=form,
        actions=BOARD_ACTIONS,
        **({"command": None, "error": None} | extra),
    )


def _params(form: CommandForm) -> dict[str, Any]:
    return {
        CommandAction.REMOTE_START: {"id_tag": form.id_tag.data, "evse_id": form.evse_id.data},
        CommandAction.REMOTE_STOP: {"session_id": form.session_id.data},
        CommandAction.UNLOCK_CONNECTOR: {"evse_id": form.evse_id.data},
    }[CommandAction(form.action.data)]


@staff.route("/<int:charger_id>/comando", methods=["GET", "POST"])
def command(charger_id: int) -> Response:
    """GET: the confirmation for an action on a connector; POST: send it."""
    found = _charger_or_404(charger_id)
    if request.method == "POST":
        form = CommandForm()
    else:  # the confirmation step: a GET, so no CSRF token to check yet
        form = CommandForm(request.args, meta={"csrf": False})
    if not form.validate():
        return _command_page(found, form, status=422, error=_("Choose an action."))
    if request.method == "GET":
        return _command_page(found, form)
    with form_action() as action:
        sent = request_command(
            Session(), found.id, form.action.data, _params(form), requested_by_id=current_user.id
        )
        send_after_commit(sent)
    if not action.ok:
        return _command_page(found, form, status=422, error=action.error)
    return _command_progress(found, sent)


def _command_progress(found: Charger, sent: ChargerCommand) -> Response:
    return render(
        "charging/staff_command_status.html",
        "status",
        charger=found,
        command=sent,
        actions=BOARD_ACTIONS,
        poll_url=url_for("charging.staff.command_status", charger_id=found.id, command_id=sent.id),
    )


@staff.get("/<int:charger_id>/comandos/<int:command_id>")
def command_status(charger_id: int, command_id: int) -> Response:
    """A command's progress; htmx polls it until the charger answers."""
    found = _charger_or_404(charger_id)
    sent = get_command(Session(), command_id, charger_id=found.id)
    if sent is None:
        abort(404)
    return _command_progress(found, sent)
