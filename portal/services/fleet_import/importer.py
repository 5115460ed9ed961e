"""Importing a file: check every row of it and, when all are good and it is not a dry
run, write the new ones.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Contract, Driver, Vehicle
from portal.services import N_, DomainError
from portal.services.fleet_import.contract_rows import import_contracts
from portal.services.fleet_import.driver_rows import import_drivers
from portal.services.fleet_import.parse import KINDS, read_rows
from portal.services.fleet_import.report import ImportReport
from portal.services.fleet_import.vehicle_rows import import_vehicles


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
    importer = {
        "vehicles": import_vehicles,
        "drivers": import_drivers,
        "contracts": import_contracts,
    }[kind]
    importer(session, rows, report, actor_id=actor_id, today=today)
    return report


def existing_keys_count(session: Session, kind: str) -> int:
    """How many records of the kind exist (the import page shows it)."""
    table = {"vehicles": Vehicle, "drivers": Driver, "contracts": Contract}[kind]
    return int(session.scalar(select(func.count()).select_from(table)) or 0)
