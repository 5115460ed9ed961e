"""Contracts from a file: each row's driver and car found and free; the new ones
inserted as active, their cars leased, an opening balance as one ledger entry.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    LIVE_CONTRACT_STATUSES,
    Contract,
    ContractStatus,
    Driver,
    DriverStatus,
    EntryKind,
    Vehicle,
    VehicleStatus,
)
from portal.services import N_, billing
from portal.services.contracts.signing import next_number
from portal.services.drivers import clean_phone
from portal.services.fleet_import.bulk import audit_rows, in_chunks, insert_audit
from portal.services.fleet_import.parse import cents, iso_date, phone_or_none, whole_number
from portal.services.fleet_import.report import ImportReport, RowError, RowRefused, checked, refuse
from portal.services.vehicles import clean_vin


def import_contracts(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    actor_id: int | None,
    today: date,
) -> None:
    phones = [p for p in (phone_or_none(r["driver_phone"]) for _, r in rows) if p]
    vins = [r["vin"].upper() for _, r in rows]
    drivers: dict[str, Driver] = {}
    vehicles: dict[str, Vehicle] = {}
    for chunk in in_chunks(phones):
        drivers.update(
            {d.phone: d for d in session.scalars(select(Driver).where(Driver.phone.in_(chunk)))}
        )
    for chunk in in_chunks(vins):
        vehicles.update(
            {v.vin: v for v in session.scalars(select(Vehicle).where(Vehicle.vin.in_(chunk)))}
        )
    live = list(LIVE_CONTRACT_STATUSES)
    live_by_driver: dict[int, Contract] = {}
    live_by_vehicle: dict[int, Contract] = {}
    for chunk in in_chunks([d.id for d in drivers.values()]):
        for c in session.scalars(
            select(Contract).where(Contract.driver_id.in_(chunk), Contract.status.in_(live))
        ):
            live_by_driver[c.driver_id] = c
    for chunk in in_chunks([v.id for v in vehicles.values()]):
        for c in session.scalars(
            select(Contract).where(Contract.vehicle_id.in_(chunk), Contract.status.in_(live))
        ):
            live_by_vehicle[c.vehicle_id] = c
    seen_driver: dict[int, int] = {}
    seen_vehicle: dict[int, int] = {}
    fresh: list[tuple[int, dict[str, Any], int]] = []
    for line, row in rows:
        try:
            phone = checked("driver_phone", clean_phone, row["driver_phone"])
            driver = drivers.get(phone)
            if driver is None:
                raise refuse(
                    "driver_phone", N_("No driver has the mobile number %(phone)s."), phone=phone
                )
            vin = checked("vin", clean_vin, row["vin"])
            vehicle = vehicles.get(vin)
            if vehicle is None:
                raise refuse("vin", N_("No car has the VIN %(vin)s."), vin=vin)
            starts_on = iso_date("start_date", row["start_date"])
            if starts_on > today:
                raise refuse("start_date", N_("An imported contract has already started."))
            rent = cents("weekly_rent_mxn", row["weekly_rent_mxn"])
            if rent <= 0:
                raise refuse("weekly_rent_mxn", N_("The weekly rent is an amount above zero."))
            deposit = cents("deposit_mxn", row["deposit_mxn"])
            term = whole_number("term_weeks", row["term_weeks"], 1, 520)
            weeks_paid = whole_number("weeks_paid", row["weeks_paid"], 0, term)
            opening = cents("opening_balance_mxn", row["opening_balance_mxn"] or "0", negative=True)
            running = live_by_driver.get(driver.id)
            if running is not None and running.vehicle_id == vehicle.id:
                same = (running.weekly_rent_cents, running.term_weeks, running.starts_on) == (
                    rent,
                    term,
                    starts_on,
                )
                if not same:
                    raise refuse(
                        "driver_phone",
                        N_("The driver's contract %(number)s on this car has other terms."),
                        number=running.number,
                    )
                report.unchanged += 1
                continue
            if running is not None:
                raise refuse(
                    "driver_phone",
                    N_("The driver already has contract %(number)s running."),
                    number=running.number,
                )
            if vehicle.id in live_by_vehicle:
                raise refuse(
                    "vin",
                    N_("The car is under contract %(number)s."),
                    number=live_by_vehicle[vehicle.id].number,
                )
            if vehicle.status not in (VehicleStatus.AVAILABLE, VehicleStatus.LEASED):
                raise refuse(
                    "vin",
                    N_("The car %(plate)s is in repair, out of service or retired."),
                    plate=vehicle.plate,
                )
            if driver.status not in (DriverStatus.ACTIVE, DriverStatus.APPLICANT):
                raise refuse("driver_phone", N_("The driver is suspended or former."))
            if driver.id in seen_driver:
                raise refuse(
                    "driver_phone",
                    N_("The same driver is on line %(line)d."),
                    line=seen_driver[driver.id],
                )
            if vehicle.id in seen_vehicle:
                raise refuse(
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
    for chunk in in_chunks(contract_rows):
        ids += [
            cid
            for (cid,) in session.execute(
                insert(Contract).returning(Contract.id, sort_by_parameter_order=True), chunk
            ).all()
        ]
    vehicle_ids = [v["vehicle_id"] for _, v, _ in fresh]
    moved: list[tuple[int, int]] = []
    for chunk in in_chunks(vehicle_ids):
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
    for chunk in in_chunks([v["driver_id"] for _, v, _ in fresh]):
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
    audit = audit_rows(
        actor_id,
        "contract.imported",
        "contracts",
        [(cid, line) for cid, (line, _, _) in zip(ids, fresh, strict=True)],
        report.source,
    )
    audit += [
        row | {"details": {"before": "available", "after": "leased", "file": report.source}}
        for row in audit_rows(actor_id, "vehicle.status_changed", "vehicles", moved, report.source)
    ]
    insert_audit(session, audit)
    session.expire_all()
