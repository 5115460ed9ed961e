"""Vehicles from a file: each row checked against the catalogue, the depots and the
cars there are (VIN, plate, tracker); the new ones inserted.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import ConnectorType, Depot, Vehicle, VehicleModel, VehicleStatus
from portal.services import N_
from portal.services.fleet_import.bulk import audit_rows, in_chunks, insert_audit
from portal.services.fleet_import.parse import MIN_YEAR, whole_number
from portal.services.fleet_import.report import ImportReport, RowError, RowRefused, checked, refuse
from portal.services.vehicles import clean_imei, clean_plate, clean_vin


def import_vehicles(
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
    for chunk in in_chunks(vins):
        existing.update(
            {v.vin: v for v in session.scalars(select(Vehicle).where(Vehicle.vin.in_(chunk)))}
        )
    for chunk in in_chunks(plates_in):
        query = select(Vehicle.plate, Vehicle.vin).where(Vehicle.plate.in_(chunk))
        plates.update((plate, vin) for plate, vin in session.execute(query))
    for chunk in in_chunks(imeis_in):
        by_imei = select(Vehicle.tracker_imei, Vehicle.vin).where(Vehicle.tracker_imei.in_(chunk))
        imeis.update((imei, vin) for imei, vin in session.execute(by_imei) if imei)
    seen: dict[str, int] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    for line, row in rows:
        try:
            vin = checked("vin", clean_vin, row["vin"])
            plate = checked("plate", clean_plate, row["plate"])
            imei = checked("tracker_imei", clean_imei, row["tracker_imei"])
            year = whole_number("year", row["year"], MIN_YEAR, today.year + 1)
            try:
                battery = Decimal(row["battery_kwh"]).quantize(Decimal("0.1"))
            except InvalidOperation:
                raise refuse("battery_kwh", N_("Write the battery's capacity in kWh.")) from None
            try:
                connector = ConnectorType(row["connector"].upper().replace("/", ""))
            except ValueError:
                raise refuse("connector", N_("The connector is CCS2 or GBT.")) from None
            model = models.get((row["make"].lower(), row["model"].lower(), battery))
            if model is None:
                raise refuse(
                    "model",
                    N_("%(make)s %(model)s with %(kwh)s kWh is not in the model catalogue."),
                    make=row["make"],
                    model=row["model"],
                    kwh=str(battery),
                )
            if model.connector_type != connector:
                raise refuse(
                    "connector",
                    N_("The catalogue says this model takes %(connector)s."),
                    connector=model.connector_type.value,
                )
            depot = depots.get(row["depot_code"].upper())
            if depot is None or depot.retired_at is not None:
                raise refuse(
                    "depot_code", N_("No depot has the code %(code)s."), code=row["depot_code"]
                )
            try:
                status = VehicleStatus(row["status"].lower())
            except ValueError:
                raise refuse(
                    "status",
                    N_("The status is one of: %(statuses)s."),
                    statuses=", ".join(s.value for s in VehicleStatus),
                ) from None
            if vin in seen:
                raise refuse("vin", N_("The same VIN is on line %(line)d."), line=seen[vin])
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
                    raise refuse(
                        differs[0],
                        N_("A car with this VIN exists with other data (%(column)s)."),
                        column=differs[0],
                    )
                report.unchanged += 1
                continue
            if plates.get(plate, vin) != vin:
                raise refuse("plate", N_("Another car has that plate."))
            if imei and imeis.get(imei, vin) != vin:
                raise refuse("tracker_imei", N_("That tracker is fitted to another car."))
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
    for chunk in in_chunks(fresh):
        result = session.execute(
            insert(Vehicle).returning(Vehicle.id, sort_by_parameter_order=True),
            [v | {"created_at": now, "status_changed_at": now} for _, v in chunk],
        )
        ids += [(vid, line) for (vid,), (line, _) in zip(result.all(), chunk, strict=True)]
    insert_audit(session, audit_rows(actor_id, "vehicle.imported", "vehicles", ids, report.source))
