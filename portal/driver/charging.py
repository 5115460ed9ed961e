"""The driver's charging pages (phone): book a slot, the session running now, history.

Registered on the driver blueprint (imported at the end of `views.py`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session as OrmSession
from werkzeug.wrappers import Response
from wtforms import HiddenField, IntegerField, RadioField, SelectChoice, SelectField
from wtforms.validators import DataRequired, InputRequired

from portal.db import Session, utcnow
from portal.htmx import render, wants_fragment
from portal.models import ChargerCommand, Contract, Depot, Driver
from portal.services import DomainError, fleet
from portal.services.charging import bookings
from portal.services.charging import driver as driver_charging
from workers.ocpp import enqueue_command

from .views import bp


class SlotFilterForm(FlaskForm):
    """Which depot and day to show slots for; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    depot = SelectField(_l("Depot"), coerce=int, validators=[DataRequired()])
    day = RadioField(_l("Day"), validators=[DataRequired(message=_l("Choose a day."))])


class BookForm(FlaskForm):
    depot = IntegerField(validators=[InputRequired()])
    start = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the record is in the URL."""


class StartForm(FlaskForm):
    depot = IntegerField(validators=[InputRequired()])


def _driver() -> Driver:
    driver = current_user.driver
    if driver is None:
        abort(404)
    return driver


def _rules() -> bookings.BookingRules:
    return bookings.rules_from_config(current_app.config)


def _grace_minutes() -> int:
    return int(_rules().no_show_grace.total_seconds() // 60)


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


def _page_context(driver: Driver, now: datetime) -> dict:
    session = Session()
    contract = fleet.get_active_contract(session, driver.id)
    return _live_context(driver) | {
        "contract": contract,
        "upcoming": bookings.list_driver_bookings(session, driver.id, now=now),
        "history": driver_charging.session_history(session, driver.id),
        "past_bookings": bookings.list_driver_bookings(
            session, driver.id, now=now, upcoming=False, limit=5
        ),
    }


@bp.get("/cargar")
def charging() -> Response:
    session = Session()
    driver = _driver()
    now = utcnow()
    context = _page_context(driver, now)
    depots = fleet.list_depots(session)
    form = _slot_form(depots, context["contract"], now)
    slots, error = None, None
    if context["contract"] is not None and form.validate():
        try:
            slots = bookings.list_available_slots(
                session,
                form.depot.data,
                context["contract"].vehicle.connector_type,
                date.fromisoformat(form.day.data),
                now=now,
                rules=_rules(),
            )
        except (DomainError, ValueError) as exc:
            error = (
                _(exc.message, **exc.params) if isinstance(exc, DomainError) else _("Choose a day.")
            )
    status = 422 if context["contract"] is not None and slots is None else 200
    return render(
        "driver/charging.html",
        "slots",
        status=status,
        form=form,
        slots=slots,
        error=error,
        **context,
    )


@bp.route("/cargar/reservar", methods=["GET", "POST"])
def book() -> Response:
    """GET: the confirmation for a slot; POST: book it."""
    session = Session()
    driver = _driver()
    now = utcnow()
    form = BookForm(request.form if request.method == "POST" else request.args)
    start = _parse_start(form.start.data)
    depot = session.get(Depot, form.depot.data) if isinstance(form.depot.data, int) else None
    if depot is None or start is None:
        return render(
            "driver/charging_confirm.html",
            "confirm",
            grace_minutes=_grace_minutes(),
            status=422,
            form=form,
            depot=depot,
            start=None,
            end=None,
            error=_("Choose a slot from the list."),
        )
    end = start + timedelta(minutes=_rules().slot_minutes)
    if request.method == "POST":
        if not form.validate():
            abort(400)
        try:
            booking = bookings.book_slot(
                session, driver.id, depot.id, start, now=now, rules=_rules()
            )
        except DomainError as exc:
            session.rollback()
            return render(
                "driver/charging_confirm.html",
                "confirm",
                grace_minutes=_grace_minutes(),
                status=422,
                form=form,
                depot=depot,
                start=start,
                end=end,
                error=_(exc.message, **exc.params),
            )
        session.commit()
        flash(_("Slot booked: %(when)s.", when=_when(booking.window_start)), "success")
        return redirect(url_for("driver.charging"), 303)
    return render(
        "driver/charging_confirm.html",
        "confirm",
        grace_minutes=_grace_minutes(),
        form=form,
        depot=depot,
        start=start,
        end=end,
        error=None,
    )


@bp.route("/cargar/reservas/<int:booking_id>/cancelar", methods=["GET", "POST"])
def cancel(booking_id: int) -> Response:
    """GET: are you sure? POST: cancel the driver's own booking (else 404)."""
    session = Session()
    driver = _driver()
    booking = bookings.get_driver_booking(session, booking_id, driver.id)
    if booking is None:
        abort(404)
    form = ConfirmForm()
    error = None
    if request.method == "POST":
        if not form.validate():
            abort(400)
        try:
            command = bookings.cancel_booking(session, booking, now=utcnow(), actor_id=None)
        except DomainError as exc:
            session.rollback()
            error = _(exc.message, **exc.params)
        else:
            session.commit()
            if command is not None:
                _enqueue(command)
            flash(_("Your booking was cancelled."), "success")
            return redirect(url_for("driver.charging"), 303)
    return render(
        "driver/charging_cancel.html",
        "confirm",
        status=422 if error else 200,
        form=form,
        booking=booking,
        error=error,
    )


def _live_context(driver: Driver, command: ChargerCommand | None = None) -> dict[str, Any]:
    session = Session()
    contract = fleet.get_active_contract(session, driver.id)
    upcoming = bookings.list_driver_bookings(session, driver.id, now=utcnow(), limit=1)
    start_depot_id = (
        upcoming[0].depot_id
        if upcoming
        else (contract.vehicle.depot_id if contract is not None else None)
    )
    return {
        "live": driver_charging.active_session(session, driver.id),
        "has_tag": bookings.driver_id_tag(session, driver.id) is not None,
        "start_depot_id": start_depot_id,
        "command": command,
        "confirm_form": ConfirmForm(),
    }


def _own_command(command_id: str | None) -> ChargerCommand | None:
    if not command_id:
        return None
    if not command_id.isdigit():
        abort(404)
    command = driver_charging.get_user_command(Session(), int(command_id), current_user.id)
    if command is None:
        abort(404)
    return command


@bp.get("/cargar/en-curso")
def charging_live() -> Response:
    """The session card (and the progress of a start/stop); htmx polls it."""
    driver = _driver()
    command = _own_command(request.args.get("command"))
    return render("driver/charging_live.html", "live", **_live_context(driver, command))


@bp.post("/cargar/iniciar")
def start() -> Response:
    """Remote start with the driver's id tag at a depot (their booking's connector or any
    free one of their type); the card then polls the command until the charger answers."""
    session = Session()
    driver = _driver()
    form = StartForm()
    if not form.validate():
        return render("driver/charging_live.html", "live", status=422, **_live_context(driver))
    try:
        command = driver_charging.start_charging(
            session,
            driver.id,
            form.depot.data,
            user_id=current_user.id,
            now=utcnow(),
            early=_rules().no_show_grace,
        )
    except DomainError as exc:
        return _command_refused(session, driver, exc)
    return _command_sent(session, driver, command)


@bp.route("/cargar/sesiones/<int:session_id>/detener", methods=["GET", "POST"])
def stop(session_id: int) -> Response:
    """GET: are you sure? POST: remote stop of the driver's own session (else 404)."""
    session = Session()
    driver = _driver()
    charging_session = driver_charging.get_driver_session(session, session_id, driver.id)
    if charging_session is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "GET":
        return render(
            "driver/charging_stop.html", "confirm", form=form, charging_session=charging_session
        )
    if not form.validate():
        abort(400)
    try:
        command = driver_charging.stop_charging(session, charging_session, user_id=current_user.id)
    except DomainError as exc:
        return _command_refused(session, driver, exc)
    return _command_sent(session, driver, command)


def _when(start: datetime) -> str:
    from portal.i18n import local_datetime

    return local_datetime(start, "EEEE d MMM, HH:mm")


def _enqueue(command: ChargerCommand) -> None:
    """Queue the command's job after the commit (an offline charger's is already failed)."""
    enqueue_command(command)


def _command_sent(session: OrmSession, driver: Driver, command: ChargerCommand) -> Response:
    """Commit, queue the command, and show the card that polls it until the charger answers."""
    session.commit()
    _enqueue(command)
    if wants_fragment():
        context = _live_context(driver, command) | {"clear_confirm": True}
        return render("driver/charging_live.html", "live", **context)
    return redirect(url_for("driver.charging_live", command=command.id), 303)


def _command_refused(session: OrmSession, driver: Driver, exc: DomainError) -> Response:
    """The service said no: nothing is kept, the card says why (422)."""
    session.rollback()
    context = _live_context(driver)
    context["error"] = _(exc.message, **exc.params)
    return render("driver/charging_live.html", "live", status=422, **context)
