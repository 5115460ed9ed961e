"""Day one from CSV: all or nothing, every bad row by line in Spanish, idempotent,
dry runs change nothing, an opening balance is one ledger entry sourced to the file."""

import pytest

from portal.models import (
    AuditEvent,
    Contract,
    ContractStatus,
    Driver,
    LedgerEntry,
    Role,
    User,
    Vehicle,
    VehicleStatus,
)
from portal.services import DomainError
from portal.services.fleet_import import importer
from portal.timeutil import local_today

TODAY = local_today()
VEHICLES = "vin,plate,make,model,year,battery_kwh,connector,tracker_imei,depot_code,status,notes\n"
DRIVERS = "phone,first_name,last_name,curp,rfc,email,license_number,license_expires\n"
CONTRACTS = (
    "driver_phone,vin,start_date,weekly_rent_mxn,deposit_mxn,term_weeks,weeks_paid,"
    "opening_balance_mxn\n"
)


@pytest.fixture
def depot(make_depot):
    return make_depot(code="VLJ")


def _vehicles_csv(vin_for, imei_for, n=3, start=1):
    rows = [
        f"{vin_for(i)},IMP-{i:03d}-A,BYD,Dolphin Mini,2025,38.8,CCS2,{imei_for(i)},vlj,available,"
        "lo que sea\n"
        for i in range(start, start + n)
    ]
    return VEHICLES + "".join(rows)


def _run(db, kind, text, dry_run=False):
    return importer.run_import(
        db, kind, text, source=f"{kind}.csv", actor_id=None, today=TODAY, dry_run=dry_run
    )


def test_vehicles_import_once_and_a_second_time_changes_nothing(
    db, depot, catalogue, vin_for, imei_for
):
    text = _vehicles_csv(vin_for, imei_for)
    dry = _run(db, "vehicles", text, dry_run=True)
    assert (dry.ok, dry.created) == (True, 3)
    assert db.query(Vehicle).count() == 0
    report = _run(db, "vehicles", text)
    assert (report.created, report.unchanged) == (3, 0)
    car = db.query(Vehicle).filter_by(plate="IMP-001-A").one()
    assert (car.depot_id, car.model_id, car.status) == (
        depot.id,
        catalogue.id,
        VehicleStatus.AVAILABLE,
    )
    assert db.query(AuditEvent).filter_by(action="vehicle.imported").count() == 3
    again = _run(db, "vehicles", text)
    assert (again.created, again.unchanged) == (0, 3)
    assert db.query(Vehicle).count() == 3


def test_one_bad_row_imports_nothing_and_every_bad_row_is_named(
    db, depot, catalogue, vin_for, imei_for
):
    good = _vehicles_csv(vin_for, imei_for, n=2)
    bad_vin = vin_for(9)[:8] + ("1" if vin_for(9)[8] != "1" else "2") + vin_for(9)[9:]
    text = (
        good
        + f"{bad_vin},IMP-009-A,BYD,Dolphin Mini,2025,38.8,CCS2,,VLJ,available,\n"
        + f"{vin_for(10)},IMP-001-A,BYD,Dolphin Mini,2025,38.8,CCS2,,VLJ,available,\n"
        + f"{vin_for(11)},IMP-011-A,JAC,E10X,2025,31.4,GBT,,VLJ,available,\n"
        + f"{vin_for(12)},IMP-012-A,BYD,Dolphin Mini,2025,38.8,GBT,,VLJ,flying,\n"
        + f"{vin_for(13)},IMP-013-A,BYD,Dolphin Mini,2025,38.8,CCS2,,NOPE,leased,\n"
    )
    report = _run(db, "vehicles", text)
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [
        (4, "vin"),
        (5, "plate"),  # the plate of line 2
        (6, "model"),  # not in the catalogue
        (7, "connector"),
        (8, "depot_code"),
    ]
    assert db.query(Vehicle).count() == 0


def test_drivers_import_with_their_phone_log_in(db, make_driver):
    existing = make_driver()
    text = DRIVERS + (
        "55 1000 2000,Rosa,Méndez,OEVL921024MDFLRR07,,rosa@correo.mx,CDMX123,2030-01-31\n"
        f"{existing.phone},Otra,Persona,EOTN981127HNESLC06,,,,\n"
        "5510002001,Sin,Curp,OEVL921024MDFLRR08,,,,\n"
    )
    report = _run(db, "drivers", text)
    assert [(e.line, e.column) for e in report.errors] == [(3, "phone"), (4, "curp")]
    report = _run(db, "drivers", DRIVERS + text.splitlines(keepends=True)[1])
    assert report.created == 1
    driver = db.query(Driver).filter_by(phone="5510002000").one()
    assert driver.user.role == Role.DRIVER
    assert driver.licence_number == "CDMX123"
    assert _run(db, "drivers", DRIVERS + text.splitlines(keepends=True)[1]).unchanged == 1
    assert db.query(User).filter_by(phone="5510002000").count() == 1


def test_contracts_import_with_weeks_paid_and_an_opening_balance(
    db, depot, catalogue, vin_for, imei_for
):
    _run(db, "vehicles", _vehicles_csv(vin_for, imei_for, n=2))
    _run(
        db,
        "drivers",
        DRIVERS
        + "5510003000,Ana,Lara,OEVL921024MDFLRR07,,,,\n"
        + "5510003001,Luis,Mora,EOTN981127HNESLC06,,,,\n",
    )
    text = CONTRACTS + (
        f"5510003000,{vin_for(1)},2025-01-06,3500,7000,156,40,1250.50\n"
        f"5510003001,{vin_for(2)},2025-03-03,3800.00,7600,182,30,0\n"
    )
    report = _run(db, "contracts", text)
    assert report.ok, report.errors
    contract = db.query(Contract).join(Driver).filter(Driver.phone == "5510003000").one()
    assert contract.status == ContractStatus.ACTIVE
    assert (contract.weekly_rent_cents, contract.opening_weeks_paid) == (350_000, 40)
    assert contract.imported_from == "contracts.csv:2"
    assert contract.vehicle.status == VehicleStatus.LEASED
    (opening,) = db.query(LedgerEntry).filter_by(driver_id=contract.driver_id).all()
    assert opening.amount_cents == 125_050
    assert (opening.source_type, opening.source_id) == ("import_file", "contracts.csv:2")
    again = _run(db, "contracts", text)
    assert (again.created, again.unchanged) == (0, 2)
    assert db.query(LedgerEntry).count() == 1


def test_contract_rows_that_cannot_be(db, depot, catalogue, vin_for, imei_for, make_contract):
    _run(db, "vehicles", _vehicles_csv(vin_for, imei_for, n=1))
    _run(db, "drivers", DRIVERS + "5510004000,Ana,Lara,OEVL921024MDFLRR07,,,,\n")
    running = make_contract()
    text = CONTRACTS + (
        f"5599990000,{vin_for(1)},2025-01-06,3500,7000,156,0,0\n"  # nobody has that phone
        f"5510004000,{vin_for(1)},2099-01-06,3500,7000,156,0,0\n"  # not started
        f"5510004000,{vin_for(1)},2025-01-06,3500,7000,156,200,0\n"  # more weeks paid than the term
        f"5510004000,{running.vehicle.vin},2025-01-06,3500,7000,156,0,0\n"  # the car is leased
        f"5510004000,{vin_for(1)},2025-01-06,tres mil,7000,156,0,0\n"
    )
    report = _run(db, "contracts", text)
    assert [(e.line, e.column) for e in report.errors] == [
        (2, "driver_phone"),
        (3, "start_date"),
        (4, "weeks_paid"),
        (5, "vin"),
        (6, "weekly_rent_mxn"),
    ]


def test_a_file_without_the_columns_is_refused(db):
    with pytest.raises(DomainError, match="columns"):
        _run(db, "vehicles", "vin,plate\nX,Y\n")


def test_the_command_line_reports_in_spanish_and_exits_non_zero(
    app, db, depot, catalogue, vin_for, imei_for, tmp_path
):
    path = tmp_path / "autos.csv"
    path.write_text(
        _vehicles_csv(vin_for, imei_for, n=1)
        + "X,Y,BYD,Dolphin Mini,2025,38.8,CCS2,,VLJ,available,\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fleet", "import", "vehicles", str(path)])
    assert result.exit_code == 1
    assert (
        "autos.csv, línea 3, vin: Un VIN tiene 17 letras y números, sin I, O ni Q." in result.output
    )
    assert "no se importó nada" in result.output
    path.write_text(_vehicles_csv(vin_for, imei_for, n=1), encoding="utf-8")
    dry = runner.invoke(args=["fleet", "import", "vehicles", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert db.query(Vehicle).count() == 0
    real = runner.invoke(args=["fleet", "import", "vehicles", str(path)])
    assert real.exit_code == 0
    assert db.query(Vehicle).filter_by(plate="IMP-001-A").count() == 1


def test_the_first_administrator_from_the_command_line(app, db):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "dueña@lafa.mx", "--role", "admin"], input="una-clave-muy-larga\n"
    )
    assert result.exit_code == 0, result.output
    assert db.query(User).filter_by(role=Role.ADMIN).one().email == "dueña@lafa.mx"
    short = app.test_cli_runner().invoke(args=["users", "create", "otro@lafa.mx"], input="corta\n")
    assert short.exit_code == 1
    assert "al menos 10" in short.output
