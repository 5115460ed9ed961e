"""Day one, from the spreadsheets: vehicles, drivers and contracts from CSV files.

UTF-8, comma-separated, a header row naming at least the columns of the kind (others
are ignored). All or nothing: every row is checked first and every bad row is named
by its line with the field's error; a file with any bad row writes nothing. A row
already imported with the same data is left alone, so importing the same file twice
changes nothing the second time; a row whose key exists with other data is an error.
A dry run checks and counts and writes nothing.

Bulk on purpose (2,000 rows in a few seconds): existing keys are read once per file,
rows are inserted with one multi-row statement per table, and each created record gets
its audit event (`*.imported`, with the file and line) in the same way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    LIVE_CONTRACT_STATUSES,
    AuditEvent,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    DriverStatus,
    EntryKind,
    Role,
    User,
    Vehicle,
    VehicleModel,
    VehicleStatus,
)
from portal.services import N_, DomainError, FieldError, billing
from portal.services.contracts.signing import next_number
from portal.services.drivers import clean_curp, clean_email, clean_phone, clean_rfc
from portal.services.users import NO_PASSWORD
from portal.services.vehicles import clean_imei, clean_plate, clean_vin

KINDS = ("vehicles", "drivers", "contracts")
COLUMNS = {
    "vehicles": (
        "vin",
        "plate",
        "make",
        "model",
        "year",
        "battery_kwh",
        "connector",
        "tracker_imei",
        "depot_code",
        "status",
    ),
    "drivers": (
        "phone",
        "first_name",
        "last_name",
        "curp",
        "rfc",
        "email",
        "license_number",
        "license_expires",
    ),
    "contracts": (
        "driver_phone",
        "vin",
        "start_date",
        "weekly_rent_mxn",
        "deposit_mxn",
        "term_weeks",
        "weeks_paid",
        "opening_balance_mxn",
    ),
}
CHUNK = 1000
MIN_YEAR = 2010
MONEY_RE = re.compile(r"^-?\d{1,9}(\.\d{1,2})?$")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    error: DomainError


@dataclass
class ImportReport:
    kind: str
    source: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class RowRefused(Exception):
    def __init__(self, column: str, error: DomainError) -> None:
        super().__init__(error.message)
        self.column = column
        self.error = error


def _refuse(where: str, message: str, **params: object) -> RowRefused:
    return RowRefused(where, DomainError(message, **params))


def _checked(column: str, check: Callable[[str], Any], raw: str) -> Any:
    """Run a field's check; its FieldError names the CSV column instead of the form's."""
    try:
        return check(raw)
    except FieldError as error:
        raise RowRefused(column, DomainError(error.message, **error.params)) from None


def read_rows(text: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line, {column: stripped value}); a missing column refuses it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[kind] if c not in header]
    if missing:
        raise DomainError(
            N_("The file's header lacks these columns: %(columns)s."), columns=", ".join(missing)
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        values = {c: (row.get(c) or "").strip() for c in COLUMNS[kind]}
        rows.append((reader.line_num, values))
    return rows


def _int(column: str, raw: str, low: int, high: int) -> int:
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise _refuse(
            column, N_("Write a whole number from %(low)d to %(high)d."), low=low, high=high
        )
    return int(raw)


def _cents(column: str, raw: str, *, negative: bool = False) -> int:
    raw = raw.replace(",", "")
    if not MONEY_RE.match(raw) or (raw.startswith("-") and not negative):
        raise _refuse(column, N_("Write an amount in pesos, such as 3500 or 3500.50."))
    return int(Decimal(raw) * 100)


def _date(column: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _refuse(column, N_("Write the date as YYYY-MM-DD.")) from None


def _in_chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _audit_rows(
    actor_id: int | None, action: str, table: str, ids_lines: Iterable[tuple[int, int]], source: str
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "at": now,
            "actor_id": actor_id,
            "action": action,
            "entity_type": table,
            "entity_id": str(record_id),
            "details": {"file": source, "line": line},
        }
        for record_id, line in ids_lines
    ]


def _insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    for chunk in _in_chunks(rows):
        session.execute(insert(AuditEvent), chunk)


def run_import(
    session: Session,
    kind: str,
    text: str,
    *,
    source: str,
    actor_id: int | None,
    today: date,
    dry_run: bool = False,
) -> ImportReport:
    """Check every row of the file and, when all are good and it is not a dry run,
    write the new ones. The caller commits (or rolls back a refused file)."""
    if kind not in KINDS:
        raise DomainError(N_("Import vehicles, drivers or contracts."))
    report = ImportReport(kind=kind, source=source[:60], dry_run=dry_run)
    rows = read_rows(text, kind)
    report.rows = len(rows)
    importer = {"vehicles": _vehicles, "drivers": _drivers, "contracts": _contracts}[kind]
    importer(session, rows, report, actor_id=actor_id, today=today)
    return report


# --------------------------------------------------------------------------- vehicles


def _vehicles(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    depots = {d.code.upper(): d for d in session.scalars(select(Depot))}
    models = {
        (m.make.lower(), m.model.lower(), m.battery_kwh): m
        for m in session.scalars(select(VehicleModel))
    }
    existing: dict[str, Vehicle] = {}
    plates: dict[str, str] = {}
    imeis: dict[str, str] = {}
    vins = [r["vin"].upper() for _, r in rows]
    plates_in = [r["plate"].upper().replace(" ", "-") for _, r in rows]
    imeis_in = [
        r["tracker_imei"].replace("-", "").replace(" ", "") for _, r in rows if r["tracker_imei"]
    ]
    for chunk in _in_chunks(vins):
        existing.update(
            {v.vin: v for v in session.scalars(select(Vehicle).where(Vehicle.vin.in_(chunk)))}
        )
    for chunk in _in_chunks(plates_in):
        query = select(Vehicle.plate, Vehicle.vin).where(Vehicle.plate.in_(chunk))
        plates.update((plate, vin) for plate, vin in session.execute(query))
    for chunk in _in_chunks(imeis_in):
        by_imei = select(Vehicle.tracker_imei, Vehicle.vin).where(Vehicle.tracker_imei.in_(chunk))
        imeis.update((imei, vin) for imei, vin in session.execute(by_imei) if imei)
    seen: dict[str, int] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            vin = _checked("vin", clean_vin, row["vin"])
            plate = _checked("plate", clean_plate, row["plate"])
            imei = _checked("tracker_imei", clean_imei, row["tracker_imei"])
            year = _int("year", row["year"], MIN_YEAR, today.year + 1)
            try:
                battery = Decimal(row["battery_kwh"]).quantize(Decimal("0.1"))
            except InvalidOperation:
                raise _refuse("battery_kwh", N_("Write the battery's capacity in kWh.")) from None
            try:
                connector = ConnectorType(row["connector"].upper().replace("/", ""))
            except ValueError:
                raise _refuse("connector", N_("The connector is CCS2 or GBT.")) from None
            model = models.get((row["make"].lower(), row["model"].lower(), battery))
            if model is None:
                raise _refuse(
                    "model",
                    N_("%(make)s %(model)s with %(kwh)s kWh is not in the model catalogue."),
                    make=row["make"],
                    model=row["model"],
                    kwh=str(battery),
                )
            if model.connector_type != connector:
                raise _refuse(
                    "connector",
                    N_("The catalogue says this model takes %(connector)s."),
                    connector=model.connector_type.value,
                )
            depot = depots.get(row["depot_code"].upper())
            if depot is None or depot.retired_at is not None:
                raise _refuse(
                    "depot_code", N_("No depot has the code %(code)s."), code=row["depot_code"]
                )
            try:
                status = VehicleStatus(row["status"].lower())
            except ValueError:
                raise _refuse(
                    "status",
                    N_("The status is one of: %(statuses)s."),
                    statuses=", ".join(s.value for s in VehicleStatus),
                ) from None
            if vin in seen:
                raise _refuse("vin", N_("The same VIN is on line %(line)d."), line=seen[vin])
            seen[vin] = line
            values = {
                "vin": vin,
                "plate": plate,
                "make": model.make,
                "model": model.model,
                "year": year,
                "battery_kwh": model.battery_kwh,
                "range_km": model.range_km,
                "connector_type": model.connector_type,
                "tracker_imei": imei,
                "depot_id": depot.id,
                "model_id": model.id,
                "status": status,
            }
            old = existing.get(vin)
            if old is not None:
                differs = [
                    k
                    for k in ("plate", "tracker_imei", "depot_id", "model_id", "year")
                    if getattr(old, k) != values[k]
                ]
                if differs:
                    raise _refuse(
                        differs[0],
                        N_("A car with this VIN exists with other data (%(column)s)."),
                        column=differs[0],
                    )
                report.unchanged += 1
                continue
            if plates.get(plate, vin) != vin:
                raise _refuse("plate", N_("Another car has that plate."))
            if imei and imeis.get(imei, vin) != vin:
                raise _refuse("tracker_imei", N_("That tracker is fitted to another car."))
            plates[plate] = vin
            if imei:
                imeis[imei] = vin
        except RowRefused as refused:
            report.errors.append(RowError(line, refused.column, refused.error))
            continue
        fresh.append((line, values))
    report.created = len(fresh)
    if report.errors or report.dry_run or not fresh:
        return
    now = utcnow()
    ids: list[tuple[int, int]] = []
    for chunk in _in_chunks(fresh):
        result = session.execute(
            insert(Vehicle).returning(Vehicle.id, sort_by_parameter_order=True),
            [v | {"created_at": now, "status_changed_at": now} for _, v in chunk],
        )
        ids += [(vid, line) for (vid,), (line, _) in zip(result.all(), chunk, strict=True)]
    _insert_audit(
        session, _audit_rows(actor_id, "vehicle.imported", "vehicles", ids, report.source)
    )


# --------------------------------------------------------------------------- drivers


def _drivers(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    existing: dict[str, Driver] = {}
    curps: dict[str, str] = {}  # CURP -> phone of the driver who has it
    user_phones: set[str] = set()
    phones_in = [p for p in (_phone_or_none(r["phone"]) for _, r in rows) if p]
    curps_in = [r["curp"].upper() for _, r in rows]
    for chunk in _in_chunks(phones_in):
        existing.update(
            {d.phone: d for d in session.scalars(select(Driver).where(Driver.phone.in_(chunk)))}
        )
        taken = select(User.phone).where(User.phone.in_(chunk))
        user_phones.update(p for p in session.scalars(taken) if p)
    for chunk in _in_chunks(curps_in):
        by_curp = select(Driver.curp, Driver.phone).where(Driver.curp.in_(chunk))
        curps.update((curp, phone) for curp, phone in session.execute(by_curp))
    seen_phone: dict[str, int] = {}
    seen_curp: dict[str, int] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            phone = _checked("phone", clean_phone, row["phone"])
            first, last = row["first_name"], row["last_name"]
            if not first:
                raise _refuse("first_name", N_("Write the driver's first name."))
            if not last:
                raise _refuse("last_name", N_("Write the driver's last name."))
            curp = _checked("curp", clean_curp, row["curp"])
            rfc = _checked("rfc", clean_rfc, row["rfc"])
            email = _checked("email", clean_email, row["email"])
            expires = (
                _date("license_expires", row["license_expires"]) if row["license_expires"] else None
            )
            if phone in seen_phone:
                raise _refuse(
                    "phone", N_("The same phone is on line %(line)d."), line=seen_phone[phone]
                )
            if curp in seen_curp:
                raise _refuse(
                    "curp", N_("The same CURP is on line %(line)d."), line=seen_curp[curp]
                )
            seen_phone[phone], seen_curp[curp] = line, line
            values = {
                "first_name": first[:100],
                "last_name": last[:100],
                "curp": curp,
                "rfc": rfc,
                "phone": phone,
                "email": email,
                "licence_number": row["license_number"][:30] or None,
                "licence_expires_on": expires,
            }
            old = existing.get(phone)
            if old is not None:
                if old.curp != curp:
                    raise _refuse("phone", N_("Another person already has that mobile number."))
                report.unchanged += 1
                continue
            if curp in curps:
                raise _refuse("curp", N_("A driver with that CURP already exists."))
            if phone in user_phones:
                raise _refuse("phone", N_("Another person already has that mobile number."))
        except RowRefused as refused:
            report.errors.append(RowError(line, refused.column, refused.error))
            continue
        fresh.append((line, values))
    report.created = len(fresh)
    if report.errors or report.dry_run or not fresh:
        return
    now = utcnow()
    ids: list[tuple[int, int]] = []
    for chunk in _in_chunks(fresh):
        users = session.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "phone": v["phone"],
                    "full_name": f"{v['first_name']} {v['last_name']}"[:200],
                    "role": Role.DRIVER,
                    "password_hash": NO_PASSWORD,
                    "locale": "es_MX",
                    "is_active": True,
                    "failed_logins": 0,
                    "created_at": now,
                }
                for _, v in chunk
            ],
        ).all()
        drivers = session.execute(
            insert(Driver).returning(Driver.id, sort_by_parameter_order=True),
            [
                v
                | {
                    "user_id": uid,
                    "status": DriverStatus.ACTIVE,
                    "platforms": [],
                    "created_by_id": actor_id,
                    "created_at": now,
                }
                for (uid,), (_, v) in zip(users, chunk, strict=True)
            ],
        ).all()
        ids += [(did, line) for (did,), (line, _) in zip(drivers, chunk, strict=True)]
    _insert_audit(session, _audit_rows(actor_id, "driver.imported", "drivers", ids, report.source))


def _phone_or_none(raw: str) -> str | None:
    try:
        return clean_phone(raw)
    except FieldError:
        return None


# --------------------------------------------------------------------------- contracts


def _contracts(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    phones = [p for p in (_phone_or_none(r["driver_phone"]) for _, r in rows) if p]
    vins = [r["vin"].upper() for _, r in rows]
    drivers: dict[str, Driver] = {}
    vehicles: dict[str, Vehicle] = {}
    for chunk in _in_chunks(phones):
        drivers.update(
            {d.phone: d for d in session.scalars(select(Driver).where(Driver.phone.in_(chunk)))}
        )
    for chunk in _in_chunks(vins):
        vehicles.update(
            {v.vin: v for v in session.scalars(select(Vehicle).where(Vehicle.vin.in_(chunk)))}
        )
    live = list(LIVE_CONTRACT_STATUSES)
    live_by_driver: dict[int, Contract] = {}
    live_by_vehicle: dict[int, Contract] = {}
    for chunk in _in_chunks([d.id for d in drivers.values()]):
        for c in session.scalars(
            select(Contract).where(Contract.driver_id.in_(chunk), Contract.status.in_(live))
        ):
            live_by_driver[c.driver_id] = c
    for chunk in _in_chunks([v.id for v in vehicles.values()]):
        for c in session.scalars(
            select(Contract).where(Contract.vehicle_id.in_(chunk), Contract.status.in_(live))
        ):
            live_by_vehicle[c.vehicle_id] = c
    seen_driver: dict[int, int] = {}
    seen_vehicle: dict[int, int] = {}
    fresh: list[tuple[int, dict[str, Any], int]] = []
    for line, row in rows:
        try:
            phone = _checked("driver_phone", clean_phone, row["driver_phone"])
            driver = drivers.get(phone)
            if driver is None:
                raise _refuse(
                    "driver_phone", N_("No driver has the mobile number %(phone)s."), phone=phone
                )
            vin = _checked("vin", clean_vin, row["vin"])
            vehicle = vehicles.get(vin)
            if vehicle is None:
                raise _refuse("vin", N_("No car has the VIN %(vin)s."), vin=vin)
            starts_on = _date("start_date", row["start_date"])
            if starts_on > today:
                raise _refuse("start_date", N_("An imported contract has already started."))
            rent = _cents("weekly_rent_mxn", row["weekly_rent_mxn"])
            if rent <= 0:
                raise _refuse("weekly_rent_mxn", N_("The weekly rent is an amount above zero."))
            deposit = _cents("deposit_mxn", row["deposit_mxn"])
            term = _int("term_weeks", row["term_weeks"], 1, 520)
            weeks_paid = _int("weeks_paid", row["weeks_paid"], 0, term)
            opening = _cents(
                "opening_balance_mxn", row["opening_balance_mxn"] or "0", negative=True
            )
            running = live_by_driver.get(driver.id)
            if running is not None and running.vehicle_id == vehicle.id:
                same = (running.weekly_rent_cents, running.term_weeks, running.starts_on) == (
                    rent,
                    term,
                    starts_on,
                )
                if not same:
                    raise _refuse(
                        "driver_phone",
                        N_("The driver's contract %(number)s on this car has other terms."),
                        number=running.number,
                    )
                report.unchanged += 1
                continue
            if running is not None:
                raise _refuse(
                    "driver_phone",
                    N_("The driver already has contract %(number)s running."),
                    number=running.number,
                )
            if vehicle.id in live_by_vehicle:
                raise _refuse(
                    "vin",
                    N_("The car is under contract %(number)s."),
                    number=live_by_vehicle[vehicle.id].number,
                )
            if vehicle.status not in (VehicleStatus.AVAILABLE, VehicleStatus.LEASED):
                raise _refuse(
                    "vin",
                    N_("The car %(plate)s is in repair, out of service or retired."),
                    plate=vehicle.plate,
                )
            if driver.status not in (DriverStatus.ACTIVE, DriverStatus.APPLICANT):
                raise _refuse("driver_phone", N_("The driver is suspended or former."))
            if driver.id in seen_driver:
                raise _refuse(
                    "driver_phone",
                    N_("The same driver is on line %(line)d."),
                    line=seen_driver[driver.id],
                )
            if vehicle.id in seen_vehicle:
                raise _refuse(
                    "vin", N_("The same car is on line %(line)d."), line=seen_vehicle[vehicle.id]
                )
            seen_driver[driver.id], seen_vehicle[vehicle.id] = line, line
        except RowRefused as refused:
            report.errors.append(RowError(line, refused.column, refused.error))
            continue
        values = {
            "driver_id": driver.id,
            "vehicle_id": vehicle.id,
            "weekly_rent_cents": rent,
            "deposit_cents": deposit,
            "term_weeks": term,
            "starts_on": starts_on,
            "opening_weeks_paid": weeks_paid,
        }
        fresh.append((line, values, opening))
    report.created = len(fresh)
    if report.errors or report.dry_run or not fresh:
        return
    _write_contracts(session, fresh, report, actor_id=actor_id, today=today)


def _write_contracts(
    session: Session,
    fresh: list[tuple[int, dict[str, Any], int]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    now = utcnow()
    prefix = f"LAFA-{today.year}-"
    first = next_number(session, today.year)
    highest = int(first[len(prefix) :]) - 1
    contract_rows = []
    for n, (line, values, _) in enumerate(fresh, 1):
        contract_rows.append(
            values
            | {
                "number": f"{prefix}{highest + n:05d}",
                "status": ContractStatus.ACTIVE,
                "late_fee_cents": 25_000,
                "grace_days": 2,
                "needs_signoff": False,
                "proposed_by_id": actor_id,
                "signed_at": now,
                "activated_at": now,
                "imported_from": f"{report.source}:{line}"[:200],
                "created_at": now,
            }
        )
    ids: list[int] = []
    for chunk in _in_chunks(contract_rows):
        ids += [
            cid
            for (cid,) in session.execute(
                insert(Contract).returning(Contract.id, sort_by_parameter_order=True), chunk
            ).all()
        ]
    vehicle_ids = [v["vehicle_id"] for _, v, _ in fresh]
    moved: list[tuple[int, int]] = []
    for chunk in _in_chunks(vehicle_ids):
        moved += [
            (vid, 0)
            for (vid,) in session.execute(
                select(Vehicle.id).where(
                    Vehicle.id.in_(chunk), Vehicle.status != VehicleStatus.LEASED
                )
            ).all()
        ]
        session.execute(
            Vehicle.__table__.update()  # type: ignore[attr-defined]
            .where(Vehicle.id.in_(chunk))
            .values(status=VehicleStatus.LEASED, status_changed_at=now)
        )
    for chunk in _in_chunks([v["driver_id"] for _, v, _ in fresh]):
        session.execute(
            Driver.__table__.update()  # type: ignore[attr-defined]
            .where(Driver.id.in_(chunk), Driver.status == DriverStatus.APPLICANT)
            .values(status=DriverStatus.ACTIVE)
        )
    entries = [
        {
            "driver_id": values["driver_id"],
            "contract_id": cid,
            "kind": EntryKind.ADJUSTMENT,
            "amount_cents": opening,
            "posted_at": now,
            "description": "Saldo inicial al importar el contrato",
            "source_type": "import_file",
            "source_id": f"{report.source}:{line}"[:60],
            "idempotency_key": f"opening:{cid}",
            "created_by_id": actor_id,
        }
        for cid, (line, values, opening) in zip(ids, fresh, strict=True)
        if opening != 0
    ]
    billing.insert_entries(session, entries)
    audit = _audit_rows(
        actor_id,
        "contract.imported",
        "contracts",
        [(cid, line) for cid, (line, _, _) in zip(ids, fresh, strict=True)],
        report.source,
    )
    audit += [
        row | {"details": {"before": "available", "after": "leased", "file": report.source}}
        for row in _audit_rows(actor_id, "vehicle.status_changed", "vehicles", moved, report.source)
    ]
    _insert_audit(session, audit)
    session.expire_all()


def existing_keys_count(session: Session, kind: str) -> int:
    """How many records of the kind exist (the import page shows it)."""
    table = {"vehicles": Vehicle, "drivers": Driver, "contracts": Contract}[kind]
    return int(session.scalar(select(func.count()).select_from(table)) or 0)
