"""The driver's charging pages (phone): book a slot, the session running now, history."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.db import Session, utcnow
from portal.htmx import render, wants_fragment
from portal.i18n import local_datetime
from portal.models import ChargerCommand, Contract, Depot, Driver
from portal.services import DomainError, fleet
from portal.services.charging import bookings, smart
from portal.services.charging import driver as driver_charging
from portal.services.fleet_status import get_charge_now
from portal.web.kit import (
    FormAction,
    current_driver,
    done,
    enqueue_after_commit,
    error_text,
    form_action,
)
from workers.smart_charging import replan_depot_job

from . import driver
from .commands import send_after_commit
from .forms import BookForm, ConfirmForm, SlotFilterForm, StartForm, TargetForm


def _rules() -> bookings.BookingRules:
    return bookings.rules_from_config(current_app.config)


def _parse_start(value: str | None) -> datetime | None:
    try:
        start = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return start if start.tzinfo is not None else None


def _slot_form(depots: list[Depot], contract: Contract | None, now: datetime) -> SlotFilterForm:
    form = SlotFilterForm(request.args)
    form.depot.choices = [SelectChoice(d.id, d.name) for d in depots]
    if "depot" not in request.args and contract is not None:
        form.depot.data = contract.vehicle.depot_id
    depot = next((d for d in depots if d.id == form.depot.data), depots[0] if depots else None)
    today, tomorrow = bookings.bookable_days(depot, now) if depot else (now.date(),) * 2
    form.day.choices = [
        SelectChoice(today.isoformat(), _l("Today")),
        SelectChoice(tomorrow.isoformat(), _l("Tomorrow")),
    ]
    if "day" not in request.args:
        form.day.data = today.isoformat()
    return form


def _slots(form: SlotFilterForm, contract: Contract, now: datetime) -> tuple[Any, str | None]:
    """The free slots of the chosen depot and day for the car's connector, or why not."""
    if not form.validate():
        return None, None
    try:
        day = date.fromisoformat(form.day.data)
        slots = bookings.list_available_slots(
            Session(),
            form.depot.data,
            contract.vehicle.connector_type,
            day,
            now=now,
            rules=_rules(),
        )
    except DomainError as exc:
        return None, error_text(exc)
    except ValueError:
        return None, _("Choose a day.")
    return slots, None


def _live_context(found: Driver, command: ChargerCommand | None = None) -> dict[str, Any]:
    session = Session()
    contract = fleet.get_active_contract(session, found.id)
    upcoming = bookings.list_driver_bookings(session, found.id, now=utcnow(), limit=1)
    if upcoming:
        start_depot_id = upcoming[0].depot_id
    else:
        start_depot_id = contract.vehicle.depot_id if contract is not None else None
    charge = get_charge_now(session, found.id)  # what the driver's home says too
    live = charge.session
    return {
        "live": live,
        "charge": charge,
        "ready": smart.ready_at(session, live.vehicle_id) if live and live.vehicle_id else None,
        "has_tag": bookings.driver_id_tag(session, found.id) is not None,
        "start_depot_id": start_depot_id,
        "command": command,
        "confirm_form": ConfirmForm(),
    }


def _planned_depot(contract: Contract | None) -> int | None:
    """The driver's depot when it plans its charging (the target card shows then)."""
    depot_id = contract.vehicle.depot_id if contract is not None else None
    return depot_id if depot_id and smart.planning_enabled(Session(), depot_id) else None


@driver.post("/meta")
def charge_target() -> Response:
    """How full the driver wants their car; their depot re-plans with it at once."""
    found = current_driver()
    depot_id = _planned_depot(fleet.get_active_contract(Session(), found.id))
    form = TargetForm()
    if form.validate():
        with form_action(form, "target") as action:
            driver_charging.set_charge_target(Session(), found.id, form.target.data)
            if depot_id is not None:
                enqueue_after_commit(Session(), replan_depot_job, depot_id)
        if action.ok and not wants_fragment():
            return done(url_for(".home"))
    status = 422 if form.errors else 200
    return render(
        "charging/driver_target.html",
        "target",
        status=status,
        saved=status == 200,
        target_form=form,
    )


@driver.get("")
def home() -> Response:
    session = Session()
    found = current_driver()
    now = utcnow()
    contract = fleet.get_active_contract(session, found.id)
    form = _slot_form(fleet.list_depots(session), contract, now)
    slots, error = _slots(form, contract, now) if contract is not None else (None, None)
    return render(
        "charging/driver.html",
        "slots",
        status=422 if contract is not None and slots is None else 200,
        form=form,
        slots=slots,
        error=error,
        contract=contract,
        upcoming=bookings.list_driver_bookings(session, found.id, now=now),
        history=driver_charging.session_history(session, found.id),
        past_bookings=bookings.list_driver_bookings(
            session, found.id, now=now, upcoming=False, limit=5
        ),
        **_live_context(found),
        target_form=TargetForm(target=found.charge_target_pct or int(smart.TARGET_SOC))
        if _planned_depot(contract)
        else None,
    )


def _confirm_page(
    form: BookForm, depot: Depot | None, start: datetime | None, **context: Any
) -> Response:
    rules = _rules()
    end = start + timedelta(minutes=rules.slot_minutes) if start else None
    return render(
        "charging/driver_confirm.html",
        "confirm",
        grace_minutes=int(rules.no_show_grace.total_seconds() // 60),
        form=form,
        depot=depot,
        start=start,
        end=end,
        **({"error": None} | context),
    )


@driver.route("/reservar", methods=["GET", "POST"])
def book() -> Response:
    """GET: the confirmation for a slot; POST: book it."""
    found = current_driver()
    form = BookForm(request.form if request.method == "POST" else request.args)
    start = _parse_start(form.start.data)
    depot = Session().get(Depot, form.depot.data) if isinstance(form.depot.data, int) else None
    if depot is None or start is None:
        return _confirm_page(form, depot, None, status=422, error=_("Choose a slot from the list."))
    if request.method == "GET":
        return _confirm_page(form, depot, start)
    if not form.validate():
        abort(400)
    with form_action() as action:
        booking = bookings.book_slot(
            Session(), found.id, depot.id, start, now=utcnow(), rules=_rules()
        )
    if not action.ok:
        return _confirm_page(form, depot, start, status=422, error=action.error)
    when = local_datetime(booking.window_start, "EEEE d MMM, HH:mm")
    flash(_("Slot booked: %(when)s.", when=when), "success")
    return redirect(url_for("charging.driver.home"), 303)


@driver.route("/reservas/<int:booking_id>/cancelar", methods=["GET", "POST"])
def cancel(booking_id: int) -> Response:
    """GET: are you sure? POST: cancel the driver's own booking (else 404)."""
    booking = bookings.get_driver_booking(Session(), booking_id, current_driver().id)
    if booking is None:
        abort(404)
    form = ConfirmForm()
    error = None
    if request.method == "POST":
        if not form.validate():
            abort(400)
        with form_action() as action:
            send_after_commit(
                bookings.cancel_booking(Session(), booking, now=utcnow(), actor_id=None)
            )
        if action.ok:
            flash(_("Your booking was cancelled."), "success")
            return redirect(url_for("charging.driver.home"), 303)
        error = action.error
    status = 422 if error else 200
    return render(
        "charging/driver_cancel.html",
        "confirm",
        status=status,
        form=form,
        booking=booking,
        error=error,
    )


def _own_command(command_id: str | None) -> ChargerCommand | None:
    if not command_id:
        return None
    if not command_id.isdigit():
        abort(404)
    command = driver_charging.get_user_command(Session(), int(command_id), current_user.id)
    if command is None:
        abort(404)
    return command


@driver.get("/en-curso")
def live() -> Response:
    """The session card (and the progress of a start/stop); htmx polls it."""
    command = _own_command(request.args.get("command"))
    return render("charging/driver_live.html", "live", **_live_context(current_driver(), command))


def _command_outcome(action: FormAction, command: ChargerCommand | None) -> Response:
    """Refused: nothing kept, the card says why (422). Sent: the card polls the command
    until the charger answers (a full page follows the redirect)."""
    found = current_driver()
    if not action.ok or command is None:
        context = _live_context(found) | {"error": action.error}
        return render("charging/driver_live.html", "live", status=422, **context)
    if wants_fragment():
        context = _live_context(found, command) | {"clear_confirm": True}
        return render("charging/driver_live.html", "live", **context)
    return redirect(url_for("charging.driver.live", command=command.id), 303)


@driver.post("/iniciar")
def start() -> Response:
    """Remote start with the driver's id tag at a depot (their booking's connector or any
    free one of their type)."""
    found = current_driver()
    form = StartForm()
    if not form.validate():
        return render("charging/driver_live.html", "live", status=422, **_live_context(found))
    command = None
    with form_action() as action:
        command = driver_charging.start_charging(
            Session(),
            found.id,
            form.depot.data,
            user_id=current_user.id,
            now=utcnow(),
            early=_rules().no_show_grace,
        )
        send_after_commit(command)
    return _command_outcome(action, command)


@driver.route("/sesiones/<int:session_id>/detener", methods=["GET", "POST"])
def stop(session_id: int) -> Response:
    """GET: are you sure? POST: remote stop of the driver's own session (else 404)."""
    charging_session = driver_charging.get_driver_session(
        Session(), session_id, current_driver().id
    )
    if charging_session is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "GET":
        return render(
            "charging/driver_stop.html", "confirm", form=form, charging_session=charging_session
        )
    if not form.validate():
        abort(400)
    command = None
    with form_action() as action:
        command = driver_charging.stop_charging(
            Session(), charging_session, user_id=current_user.id
        )
        send_after_commit(command)
    return _command_outcome(action, command)
