"""Depot staff's pages, made for a tablet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session as OrmSession
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import SelectChoice

from portal import clock
from portal.db import Session
from portal.driver.statement_context import KIND_LABELS
from portal.htmx import render
from portal.i18n import local_date, money
from portal.models import Driver, LedgerEntry, Role, Vehicle, VehicleState, VehicleStatus
from portal.security import client_ip, require_roles
from portal.services import DomainError, FieldError, fleet_status, statements
from portal.services.collections import Sort, iter_collections, list_collections
from portal.services.collections import driver_ledger as ledger_page
from portal.services.fleet import get_active_contract, list_depots, list_fleet
from portal.services.ledger import reverse_entry
from portal.services.payments import (
    get_open_oxxo_reference,
    get_payment_account,
    parse_amount,
    record_cash_payment,
)
from portal.services.telemetry import count_rejects, list_rejects
from portal.timeutil import local_today

from .forms import (
    BOARD_FLAG_LABELS,
    STATUS_LABELS,
    BoardFilterForm,
    CashPaymentForm,
    CollectionsFilterForm,
    FleetFilterForm,
    PeriodForm,
    ReversalForm,
)

MAP_WIDTH = 800.0

bp = Blueprint("staff", __name__)
require_roles(bp, [Role.STAFF, Role.MANAGER, Role.ADMIN])


@bp.get("/flota")
def fleet() -> Response:
    session = Session()
    form = FleetFilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in list_depots(session)
    ]
    if not form.validate():
        return render(
            "staff/fleet.html",
            "results",
            status=422,
            form=form,
            page=None,
            status_labels=STATUS_LABELS,
        )
    page = list_fleet(
        session,
        depot_id=form.depot.data or None,
        status=VehicleStatus(form.status.data) if form.status.data else None,
        plate=form.plate.data or "",
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
    )
    return render("staff/fleet.html", "results", form=form, page=page, status_labels=STATUS_LABELS)


def _collections_filters(session: OrmSession) -> CollectionsFilterForm:
    form = CollectionsFilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in list_depots(session)
    ]
    return form


def _collections_args(form: CollectionsFilterForm) -> dict[str, Any]:
    return {
        "depot_id": form.depot.data or None,
        "min_days": form.late.data or 0,
        "search": form.q.data or "",
        "sort": Sort(form.sort.data) if form.sort.data in tuple(Sort) else Sort.DAYS,
    }


@bp.get("/cobranza")
def collections() -> Response:
    session = Session()
    form = _collections_filters(session)
    if not form.validate():
        return render("staff/collections.html", "results", status=422, form=form, page=None)
    page = list_collections(
        session,
        local_today(),
        page=form.page.data or 1,
        per_page=current_app.config["PAGE_SIZE"],
        **_collections_args(form),
    )
    return render("staff/collections.html", "results", form=form, page=page)


CSV_HEADER = (
    _l("Driver"),
    _l("Phone"),
    _l("Depot"),
    _l("Contract"),
    _l("Amount owed (MXN)"),
    _l("Days late"),
    _l("Oldest unpaid charge"),
    _l("Last payment"),
)


@bp.get("/cobranza.csv")
def collections_csv() -> Response:
    session = Session()
    form = _collections_filters(session)
    if not form.validate():
        abort(422)
    rows = iter_collections(session, local_today(), **_collections_args(form))

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # a BOM, so Excel reads the accents as UTF-8
        writer.writerow([str(h) for h in CSV_HEADER])
        for n, row in enumerate(rows, 1):
            writer.writerow(
                [
                    row.name,
                    row.phone,
                    row.depot_name or "",
                    row.contract_number or "",
                    f"{row.balance_cents / 100:.2f}",
                    row.days_late,
                    local_date(row.oldest_unpaid_at, "yyyy-MM-dd") if row.oldest_unpaid_at else "",
                    local_date(row.last_payment_at, "yyyy-MM-dd") if row.last_payment_at else "",
                ]
            )
            if n % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"cobranza-{local_today().isoformat()}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )


def _get_driver(session: OrmSession, driver_id: int) -> Driver:
    driver = session.get(Driver, driver_id)
    if driver is None:
        abort(404)
    return driver


@bp.route("/conductores/<int:driver_id>/estado", methods=["GET", "POST"])
def driver_account(driver_id: int) -> Response | WerkzeugResponse:
    """A driver's money on one page: balance, days late, how they pay, the movements
    with their running balance (paged; htmx swaps #entries), the statements and the
    cash payment form. Managers reverse a movement here (POST)."""
    session = Session()
    driver = _get_driver(session, driver_id)
    reversal = ReversalForm()
    if request.method == "GET":
        return _account_page(session, driver, reversal=reversal)
    if current_user.role not in (Role.MANAGER, Role.ADMIN):
        abort(403)
    if reversal.validate():
        entry = session.get(LedgerEntry, reversal.entry_id.data)
        if entry is None or entry.driver_id != driver.id:
            abort(404)
        try:
            reverse_entry(
                session,
                entry.id,
                reason=reversal.reason.data or "",
                actor_id=current_user.id,
                ip=client_ip(),
            )
        except DomainError as error:
            reversal.reason.errors = [_(error.message, **error.params)]
        else:
            session.commit()
            flash(_("The movement was reversed."), "success")
            return redirect(url_for("staff.driver_account", driver_id=driver.id), 303)
    return _account_page(
        session, driver, reversal=reversal, failed_entry=reversal.entry_id.data, status=422
    )


def _account_page(
    session: OrmSession,
    driver: Driver,
    *,
    reversal: ReversalForm,
    cash: CashPaymentForm | None = None,
    failed_entry: int | None = None,
    status: int = 200,
) -> Response:
    contract = get_active_contract(session, driver.id)
    summary = statements.account_summary(session, driver.id, contract, local_today())
    if cash is None:
        cash = CashPaymentForm(formdata=None)
        balance = summary.balance_cents
        cash.amount.data = f"{balance // 100}.{balance % 100:02d}" if balance > 0 else ""
    page = ledger_page(session, driver.id, page=request.args.get("page", 1, type=int) or 1)
    return render(
        "staff/driver_account.html",
        "entries",
        status=status,
        driver=driver,
        contract=contract,
        summary=summary,
        account=get_payment_account(session, driver.id),
        oxxo=get_open_oxxo_reference(session, driver.id),
        page=page,
        reversed_ids=statements.reversed_entry_ids(session, [line.entry.id for line in page.items]),
        statements=statements.list_statements(session, driver.id, limit=12),
        kind_labels=KIND_LABELS,
        cash=cash,
        reversal=reversal,
        failed_entry=failed_entry,
        can_reverse=current_user.role in (Role.MANAGER, Role.ADMIN),
    )


@bp.route("/conductores/<int:driver_id>/movimientos", methods=["GET", "POST"])
def driver_movements(driver_id: int) -> WerkzeugResponse:
    """The former movements page: its movements, statements and reversals are on the
    account page now (308 keeps a reversal's POST a POST)."""
    return redirect(url_for("staff.driver_account", driver_id=driver_id, **request.args), 308)


@bp.route("/conductores/<int:driver_id>/efectivo", methods=["GET", "POST"])
def cash_payment(driver_id: int) -> Response | WerkzeugResponse:
    """Cash received at the depot: the form is on the account page (GET goes there)."""
    session = Session()
    driver = _get_driver(session, driver_id)
    account_url = url_for("staff.driver_account", driver_id=driver.id)
    if request.method == "GET":
        return redirect(f"{account_url}#efectivo", 303)
    form = CashPaymentForm()
    if not form.validate():
        return _account_page(
            session, driver, reversal=ReversalForm(formdata=None), cash=form, status=422
        )
    try:
        intent = record_cash_payment(
            session,
            driver_id=driver.id,
            amount_cents=parse_amount(form.amount.data),
            receipt_number=form.receipt_number.data or "",
            actor_id=current_user.id,
            ip=client_ip(),
        )
    except DomainError as error:
        session.rollback()
        field = error.field if isinstance(error, FieldError) else "amount"
        form[field].errors = [_(error.message, **error.params)]
        return _account_page(
            session, driver, reversal=ReversalForm(formdata=None), cash=form, status=422
        )
    session.commit()
    flash(
        _(
            "Cash payment of %(amount)s recorded, receipt %(number)s.",
            amount=money(intent.amount_cents),
            number=intent.receipt_number,
        ),
        "success",
    )
    return redirect(account_url, 303)


@bp.get("/tablero")
def board() -> Response:
    """The fleet board: every vehicle's charge, activity, last report and alerts, a map."""
    session = Session()
    form = BoardFilterForm(request.args)
    form.depot.choices = [SelectChoice(0, _l("All depots"))] + [
        SelectChoice(d.id, d.name) for d in list_depots(session)
    ]
    context = {
        "form": form,
        "status_labels": STATUS_LABELS,
        "flag_labels": BOARD_FLAG_LABELS,
        "rows": None,
    }
    if not form.validate():
        return render("staff/board.html", "board", status=422, **context)
    rows = fleet_status.list_board(
        session,
        depot_id=form.depot.data or None,
        flag=form.flag.data or None,
        sort=form.sort.data or "plate",
    )
    now = clock.now()
    width = MAP_WIDTH
    height = fleet_status.map_height(width)
    tile_url = current_app.config.get("MAP_TILE_URL") or ""
    return render(
        "staff/board.html",
        "board",
        **context
        | {
            "rows": rows,
            "now": now,
            "map": {
                "width": width,
                "height": height,
                "tiles": fleet_status.map_tiles(tile_url, width, height) if tile_url else [],
                "depots": [
                    (d, fleet_status.project(float(d.latitude), float(d.longitude), width, height))
                    for d in fleet_status.list_depots_on_map(session)
                    if d.latitude is not None and d.longitude is not None
                ],
                "dots": [
                    (
                        row,
                        fleet_status.project(
                            row.state.latitude, row.state.longitude, width, height
                        ),
                    )
                    for row in rows
                    if row.state and fleet_status.on_map(row.state.latitude, row.state.longitude)
                ],
                "landmarks": [
                    (name, fleet_status.project(lat, lon, width, height))
                    for name, lat, lon in LANDMARKS
                ],
            },
            "rejects": count_rejects(session, now - timedelta(hours=24)),
            "recent_rejects": list_rejects(session, limit=5),
        },
    )


LANDMARKS = (
    ("Zócalo", 19.4326, -99.1332),
    ("Polanco", 19.4333, -99.1917),
    ("Santa Fe", 19.3595, -99.2606),
    ("AICM", 19.4361, -99.0719),
    ("Ciudad Universitaria", 19.3320, -99.1870),
    ("Xochimilco", 19.2572, -99.1033),
)


@bp.get("/vehiculos/<int:vehicle_id>")
def vehicle(vehicle_id: int) -> Response:
    """A vehicle: its latest state, charge and speed charts, trips, charging, last frame."""
    session = Session()
    car = session.get(Vehicle, vehicle_id)
    if car is None:
        abort(404)
    form = PeriodForm(request.args)
    if not form.validate():
        return render(
            "staff/vehicle.html",
            "charts",
            status=422,
            vehicle=car,
            form=form,
            chart=None,
            state=None,
            trips=[],
            episodes=[],
            raw=None,
        )
    period = form.period.data or "24h"
    now = clock.now()
    span, _bucket = fleet_status.PERIODS[period]
    state = session.get(VehicleState, vehicle_id)
    series = (
        fleet_status.vehicle_series(session, car.tracker_imei, now, period)
        if car.tracker_imei
        else []
    )
    since = now - span
    x_range = (since.timestamp(), now.timestamp())
    top_speed = max([60.0, *(p.speed for p in series)])
    chart = {
        "width": 600,
        "height": 140,
        "period": period,
        "since": since,
        "now": now,
        "soc": fleet_status.polyline(
            [(p.at.timestamp(), p.soc_pct) for p in series], x_range, (0, 100), 600, 140
        ),
        "speed": fleet_status.polyline(
            [(p.at.timestamp(), p.speed) for p in series], x_range, (0, top_speed), 600, 140
        ),
        "top_speed": round(top_speed),
        "points": len(series),
    }
    return render(
        "staff/vehicle.html",
        "charts",
        vehicle=car,
        form=form,
        state=state,
        range_km=fleet_status.estimated_range_km(car, state),
        chart=chart,
        trips=fleet_status.list_trips(session, vehicle_id, now - timedelta(days=7)),
        episodes=fleet_status.list_charging_episodes(session, vehicle_id, now - timedelta(days=7)),
        raw=json.dumps(state.last_record, indent=2, ensure_ascii=False) if state else None,
        status_labels=STATUS_LABELS,
    )


from . import charging  # noqa: E402,F401 - registers the charger pages on bp
