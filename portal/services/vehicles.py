"""The cars: the model catalogue, adding and editing a car, and its status lifecycle.

    in preparation → available → leased → in repair / out of service
                                        → transferred to the driver / sold / written off

`leased` and `transferred` belong to contracts (signing one, completing one); staff
move a car through the rest by hand with `change_status`, each change audited with
its reason: the audit log is the car's history. A car with history is retired, never
deleted; `delete_vehicle` removes only one entered by mistake that nothing refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.db import utcnow
from portal.models import (
    LIVE_CONTRACT_STATUSES,
    AuditEvent,
    ChargingSession,
    ConnectorType,
    Contract,
    Depot,
    Incident,
    TelemetryReading,
    Vehicle,
    VehicleModel,
    VehicleState,
    VehicleStatus,
)

from . import N_, DomainError, FieldError, audit
from .identifiers import VinProblem, normalize_imei, normalize_vin

S = VehicleStatus
#: The moves staff make by hand. Leasing and transferring come with a contract.
MANUAL_MOVES: dict[VehicleStatus, frozenset[VehicleStatus]] = {
    S.IN_PREPARATION: frozenset({S.AVAILABLE, S.SOLD, S.WRITTEN_OFF}),
    S.AVAILABLE: frozenset(
        {S.IN_PREPARATION, S.IN_REPAIR, S.OUT_OF_SERVICE, S.SOLD, S.WRITTEN_OFF}
    ),
    S.LEASED: frozenset({S.IN_REPAIR, S.OUT_OF_SERVICE}),
    S.IN_REPAIR: frozenset({S.AVAILABLE, S.OUT_OF_SERVICE, S.SOLD, S.WRITTEN_OFF}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE, S.IN_REPAIR, S.SOLD, S.WRITTEN_OFF}),
    S.TRANSFERRED: frozenset(),
    S.SOLD: frozenset(),
    S.WRITTEN_OFF: frozenset(),
}
#: Statuses a car can be imported in (a file of day one names the car's state).
IMPORTABLE = frozenset(VehicleStatus) - {S.TRANSFERRED}
MIN_YEAR = 2010
PLATE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


@dataclass(frozen=True, slots=True)
class ModelData:
    make: str
    model: str
    battery_kwh: Decimal
    range_km: int
    connector_type: ConnectorType
    max_ac_kw: Decimal | None = None
    max_dc_kw: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VehicleData:
    vin: str
    plate: str
    model_id: int
    year: int
    depot_id: int
    tracker_imei: str | None = None
    color: str | None = None


# --------------------------------------------------------------------------- catalogue


def _kw(value: Decimal | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        ok = value.is_finite() and Decimal(0) < value <= Decimal(1000)
    except InvalidOperation:
        ok = False
    if not ok:
        raise FieldError(field, N_("Write a power in kW above zero."))
    return value.quantize(Decimal("0.1"))


def add_model(
    session: Session, data: ModelData, *, actor_id: int | None, ip: str | None = None
) -> VehicleModel:
    make, model = data.make.strip(), data.model.strip()
    if not make:
        raise FieldError("make", N_("Write the make."))
    if not model:
        raise FieldError("model", N_("Write the model."))
    battery = _kw(data.battery_kwh, "battery_kwh")
    if battery is None:
        raise FieldError("battery_kwh", N_("Write the battery's capacity in kWh."))
    if not 10 <= data.range_km <= 2000:
        raise FieldError("range_km", N_("Write the range in km (10 to 2,000)."))
    if find_model(session, make, model, battery) is not None:
        raise FieldError("model", N_("That model with that battery is already in the catalogue."))
    entry = VehicleModel(
        make=make[:40],
        model=model[:60],
        battery_kwh=battery,
        range_km=data.range_km,
        connector_type=data.connector_type,
        max_ac_kw=_kw(data.max_ac_kw, "max_ac_kw"),
        max_dc_kw=_kw(data.max_dc_kw, "max_dc_kw"),
    )
    session.add(entry)
    session.flush()
    audit.record(session, actor_id, "vehicle_model.added", entry, ip=ip, label=entry.label)
    return entry


def find_model(
    session: Session, make: str, model: str, battery_kwh: Decimal
) -> VehicleModel | None:
    return session.scalar(
        select(VehicleModel).where(
            func.lower(VehicleModel.make) == make.strip().lower(),
            func.lower(VehicleModel.model) == model.strip().lower(),
            VehicleModel.battery_kwh == battery_kwh,
        )
    )


def list_models(session: Session) -> list[VehicleModel]:
    return list(
        session.scalars(
            select(VehicleModel).order_by(
                VehicleModel.make, VehicleModel.model, VehicleModel.battery_kwh
            )
        )
    )


# --------------------------------------------------------------------------- cars


def clean_vin(raw: str) -> str:
    try:
        return normalize_vin(raw)
    except VinProblem as problem:
        if str(problem) == "check_digit":
            raise FieldError(
                "vin", N_("The VIN's check digit (the 9th character) does not match; check it.")
            ) from None
        raise FieldError("vin", N_("A VIN has 17 letters and digits, without I, O or Q.")) from None


def clean_plate(raw: str) -> str:
    plate = raw.strip().upper().replace(" ", "-")
    if not 5 <= len(plate) <= 10 or not set(plate) <= PLATE_CHARS:
        raise FieldError("plate", N_("A plate has 5 to 10 letters, digits or dashes."))
    return plate


def clean_imei(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    imei = normalize_imei(raw)
    if imei is None:
        raise FieldError(
            "tracker_imei", N_("A tracker's IMEI has 15 digits and a valid check digit.")
        )
    return imei


def check_year(year: int, today_year: int) -> None:
    if not MIN_YEAR <= year <= today_year + 1:
        raise FieldError(
            "year",
            N_("The model year is between %(first)d and %(last)d."),
            first=MIN_YEAR,
            last=today_year + 1,
        )


def _check_unique(
    session: Session, vin: str, plate: str, imei: str | None, vehicle_id: int | None
) -> None:
    conditions = [Vehicle.vin == vin, Vehicle.plate == plate]
    if imei:
        conditions.append(Vehicle.tracker_imei == imei)
    for other in session.scalars(select(Vehicle).where(or_(*conditions))):
        if other.id == vehicle_id:
            continue
        if other.vin == vin:
            raise FieldError("vin", N_("Another car has that VIN (%(plate)s)."), plate=other.plate)
        if other.plate == plate:
            raise FieldError("plate", N_("Another car has that plate."))
        raise FieldError(
            "tracker_imei",
            N_("That tracker is fitted to another car (%(plate)s)."),
            plate=other.plate,
        )


def _depot(session: Session, depot_id: int) -> Depot:
    depot = session.get(Depot, depot_id)
    if depot is None or depot.retired_at is not None:
        raise FieldError("depot_id", N_("Choose a depot."))
    return depot


def _catalogue(session: Session, model_id: int) -> VehicleModel:
    entry = session.get(VehicleModel, model_id)
    if entry is None:
        raise FieldError("model_id", N_("Choose a model from the catalogue."))
    return entry


def _copy_model(vehicle: Vehicle, entry: VehicleModel) -> None:
    vehicle.model_id = entry.id
    vehicle.make = entry.make
    vehicle.model = entry.model
    vehicle.battery_kwh = entry.battery_kwh
    vehicle.range_km = entry.range_km
    vehicle.connector_type = entry.connector_type


def add_vehicle(
    session: Session,
    data: VehicleData,
    *,
    actor_id: int | None,
    today_year: int,
    status: VehicleStatus = S.IN_PREPARATION,
    ip: str | None = None,
) -> Vehicle:
    """A new car of the catalogue, in preparation (or `status`, for an import)."""
    vin, plate, imei = clean_vin(data.vin), clean_plate(data.plate), clean_imei(data.tracker_imei)
    check_year(data.year, today_year)
    _check_unique(session, vin, plate, imei, None)
    entry = _catalogue(session, data.model_id)
    vehicle = Vehicle(
        vin=vin,
        plate=plate,
        year=data.year,
        color=(data.color or "").strip()[:30] or None,
        tracker_imei=imei,
        depot=_depot(session, data.depot_id),
        status=status,
        status_changed_at=utcnow(),
    )
    _copy_model(vehicle, entry)
    session.add(vehicle)
    session.flush()
    audit.record(
        session, actor_id, "vehicle.added", vehicle, ip=ip, plate=plate, status=status.value
    )
    return vehicle


def update_vehicle(
    session: Session,
    vehicle: Vehicle,
    data: VehicleData,
    *,
    actor_id: int,
    today_year: int,
    ip: str | None = None,
) -> list[str]:
    """Correct a car's record; returns the fields that changed (audited, with before/after)."""
    if vehicle.is_retired:
        raise DomainError(N_("A retired car's record is closed."))
    vin, plate, imei = clean_vin(data.vin), clean_plate(data.plate), clean_imei(data.tracker_imei)
    check_year(data.year, today_year)
    _check_unique(session, vin, plate, imei, vehicle.id)
    entry = _catalogue(session, data.model_id)
    depot = _depot(session, data.depot_id)
    values = {
        "vin": vin,
        "plate": plate,
        "year": data.year,
        "color": (data.color or "").strip()[:30] or None,
        "tracker_imei": imei,
        "depot_id": depot.id,
        "model_id": entry.id,
    }
    changes = {k: [_plain(getattr(vehicle, k)), _plain(v)] for k, v in values.items()}
    changes = {k: v for k, v in changes.items() if v[0] != v[1]}
    for key in changes:
        setattr(vehicle, key, values[key])
    if "model_id" in changes:
        _copy_model(vehicle, entry)
    if changes:
        session.flush()
        audit.record(session, actor_id, "vehicle.updated", vehicle, ip=ip, changes=changes)
    return sorted(changes)


def _plain(value: object) -> object:
    return value.value if hasattr(value, "value") else value


def live_contract(session: Session, vehicle_id: int) -> Contract | None:
    return session.scalar(
        select(Contract).where(
            Contract.vehicle_id == vehicle_id, Contract.status.in_(list(LIVE_CONTRACT_STATUSES))
        )
    )


def allowed_moves(session: Session, vehicle: Vehicle) -> list[VehicleStatus]:
    """What staff may move the car to by hand now (in the lifecycle's order)."""
    moves = MANUAL_MOVES[vehicle.status]
    if live_contract(session, vehicle.id) is not None:
        moves = moves - {S.SOLD, S.WRITTEN_OFF, S.IN_PREPARATION}
    return [s for s in VehicleStatus if s in moves]


def change_status(
    session: Session,
    vehicle: Vehicle,
    to: VehicleStatus,
    *,
    actor_id: int | None,
    reason: str,
    ip: str | None = None,
) -> None:
    """Staff move a car along its lifecycle by hand, with a reason.

    Back on the road from repair or out of service is `available`: the car goes back to
    `leased` if a contract holds it."""
    reason = reason.strip()
    if len(reason) < 3:
        raise FieldError("reason", N_("Say why the car's status changes."))
    if to not in MANUAL_MOVES[vehicle.status]:
        if to in (S.LEASED, S.TRANSFERRED):
            raise FieldError("status", N_("A car is leased or transferred through its contract."))
        raise FieldError("status", N_("A car cannot go from this status to that one."))
    contract = live_contract(session, vehicle.id)
    if contract is not None and to in (S.SOLD, S.WRITTEN_OFF, S.IN_PREPARATION):
        raise FieldError(
            "status",
            N_("Contract %(number)s holds this car; end it first."),
            number=contract.number,
        )
    if to == S.AVAILABLE and contract is not None:
        to = S.LEASED
    set_status(session, vehicle, to, actor_id=actor_id, reason=reason, ip=ip)


def set_status(
    session: Session,
    vehicle: Vehicle,
    to: VehicleStatus,
    *,
    actor_id: int | None,
    reason: str | None = None,
    contract: Contract | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> None:
    """Record a status change (no rules: the callers hold them) in the car's history."""
    if vehicle.status == to:
        return
    before = vehicle.status
    vehicle.status = to
    vehicle.status_changed_at = at or utcnow()
    session.flush()
    audit.record(
        session,
        actor_id,
        "vehicle.status_changed",
        vehicle,
        ip=ip,
        before=before.value,
        after=to.value,
        reason=reason,
        contract=contract.number if contract else None,
    )


def history(session: Session, vehicle_id: int, limit: int = 200) -> list[AuditEvent]:
    """The car's history, newest first: additions, edits and every status change."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "vehicles", AuditEvent.entity_id == str(vehicle_id))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def has_history(session: Session, vehicle_id: int) -> bool:
    """Anything beyond its own record: a contract, telemetry, charging, an incident, a
    status change."""
    probes: list[Select[Any]] = [
        select(Contract.id).where(
            or_(Contract.vehicle_id == vehicle_id, Contract.own_vehicle_id == vehicle_id)
        ),
        select(Incident.id).where(Incident.vehicle_id == vehicle_id),
        select(ChargingSession.id).where(ChargingSession.vehicle_id == vehicle_id),
        select(VehicleState.vehicle_id).where(VehicleState.vehicle_id == vehicle_id),
        select(AuditEvent.id).where(
            AuditEvent.entity_type == "vehicles",
            AuditEvent.entity_id == str(vehicle_id),
            AuditEvent.action != "vehicle.added",
        ),
    ]
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is not None and vehicle.tracker_imei:
        probes.append(
            select(TelemetryReading.imei).where(TelemetryReading.imei == vehicle.tracker_imei)
        )
    return any(session.scalar(p.limit(1)) is not None for p in probes)


def delete_vehicle(
    session: Session, vehicle: Vehicle, *, actor_id: int, ip: str | None = None
) -> None:
    """Remove a car entered by mistake. One with any history is retired instead."""
    if has_history(session, vehicle.id):
        raise DomainError(N_("This car has history; retire it (sold or written off) instead."))
    audit.record(session, actor_id, "vehicle.deleted", vehicle, ip=ip, vin=vehicle.vin)
    session.execute(delete(Vehicle).where(Vehicle.id == vehicle.id))
    session.expunge(vehicle)


def get_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.scalar(
        select(Vehicle)
        .options(joinedload(Vehicle.depot), joinedload(Vehicle.catalogue_model))
        .where(Vehicle.id == vehicle_id)
    )
    if vehicle is None:
        raise DomainError(N_("That car does not exist."))
    return vehicle


def available_vehicles(session: Session, depot_id: int | None = None) -> list[Vehicle]:
    """Cars a new contract can take: available, not retired, not held by a contract."""
    query = (
        select(Vehicle)
        .options(joinedload(Vehicle.depot))
        .where(Vehicle.status == S.AVAILABLE)
        .order_by(Vehicle.plate)
    )
    if depot_id:
        query = query.where(Vehicle.depot_id == depot_id)
    return list(session.scalars(query))
