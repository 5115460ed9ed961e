"""The schema: Alembic's migrations build exactly the models, and the database
itself refuses bad data."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from portal.config import ROOT
from portal.models import Base, ContractStatus
from portal.models.telemetry import include_in_schema_compare
from portal.payments.demo import DemoClient, demo_clabe
from portal.services.payments import ensure_spei_account


def test_migrations_match_the_models(db):
    context = MigrationContext.configure(
        db.connection(),
        opts={"compare_type": True, "include_name": include_in_schema_compare},
    )
    assert compare_metadata(context, Base.metadata) == []


def test_vin_plate_and_imei_are_unique(db, make_vehicle):
    car = make_vehicle()
    for field in ("vin", "plate", "tracker_imei"):
        with pytest.raises(IntegrityError), db.begin_nested():
            make_vehicle(**{field: getattr(car, field)})


def test_curp_is_unique(db, make_driver):
    driver = make_driver()
    with pytest.raises(IntegrityError), db.begin_nested():
        make_driver(curp=driver.curp)


def test_money_and_statuses_are_checked(db, make_contract, make_vehicle):
    with pytest.raises(IntegrityError), db.begin_nested():
        make_contract(weekly_rent_cents=0)
    with pytest.raises(IntegrityError), db.begin_nested():
        make_contract(deposit_cents=-1)


def test_one_active_contract_per_vehicle(db, make_contract):
    first = make_contract()
    with pytest.raises(IntegrityError), db.begin_nested():
        make_contract(vehicle=first.vehicle)
    make_contract(vehicle=first.vehicle, status=ContractStatus.COMPLETED)  # history is fine


def _migrate(db, step, target):
    """Run Alembic on the test's own connection (rolled back with the test)."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["connection"] = db.connection()
    step(config, target)


def test_0011_moves_a_drivers_clabe_into_payment_accounts_and_back(db, make_driver):
    kept, moved, bare = make_driver(), make_driver(), make_driver()
    ensure_spei_account(db, kept, DemoClient(), "cobranza@lafa.mx")
    db.flush()
    _migrate(db, command.downgrade, "0011-1")
    db.execute(
        text("UPDATE drivers SET spei_clabe = '646180202600000058' WHERE id = :id"),
        {"id": moved.id},
    )
    db.execute(
        text("UPDATE drivers SET spei_clabe = '646180202600000061' WHERE id = :id"), {"id": kept.id}
    )
    _migrate(db, command.upgrade, "0011")
    columns = {c["name"] for c in inspect(db.connection()).get_columns("drivers")}
    assert "spei_clabe" not in columns
    clabes = dict(db.execute(text("SELECT driver_id, clabe FROM payment_accounts")).all())
    assert clabes[moved.id] == "646180202600000058"  # moved, with its bank
    assert clabes[kept.id] == demo_clabe(kept.id)  # the provider's account wins
    assert bare.id not in clabes
    bank = db.scalar(
        text("SELECT bank_name FROM payment_accounts WHERE driver_id = :id"), {"id": moved.id}
    )
    assert bank == "STP"

    _migrate(db, command.downgrade, "0011-1")
    restored = dict(db.execute(text("SELECT id, spei_clabe FROM drivers")).all())
    assert restored[moved.id] == "646180202600000058"
    assert restored[kept.id] == demo_clabe(kept.id)
    assert restored[bare.id] is None
    _migrate(db, command.upgrade, "heads")


def test_0016_keeps_each_meter_sample_once(db, make_charger, make_charging_session):
    charger = make_charger()
    charging = make_charging_session(charger)  # on EVSE 1
    _migrate(db, command.downgrade, "0015")
    insert = text(
        "INSERT INTO meter_values (charger_id, evse_id, session_id, sampled_at, measurand,"
        " phase, context, value) VALUES (:c, :e, :s, :at,"
        " 'Energy.Active.Import.Register', '', :ctx, :v)"
    )
    rows = [
        {"e": 1, "s": charging.id, "ctx": "Sample.Periodic", "at": "2026-03-02 15:10Z"},
        # The stop's copy of that sample, stored under EVSE 0 before 0016.
        {"e": 0, "s": charging.id, "ctx": "Sample.Periodic", "at": "2026-03-02 15:10Z"},
        {"e": 0, "s": charging.id, "ctx": "Transaction.End", "at": "2026-03-02 15:20Z"},
        {"e": 0, "s": None, "ctx": None, "at": "2026-03-02 15:30Z"},  # no session
    ]
    for row in rows:
        db.execute(insert, {"c": charger.id, "v": 1500, **row})
    _migrate(db, command.upgrade, "heads")
    kept = db.execute(
        text(
            "SELECT evse_id, session_id, context FROM meter_values WHERE charger_id = :c"
            " ORDER BY id"
        ),
        {"c": charger.id},
    ).all()
    assert kept == [
        (1, charging.id, "Sample.Periodic"),
        (1, charging.id, "Transaction.End"),
        (0, None, None),
    ]
    again = {"c": charger.id, "e": 0, "s": None, "ctx": None, "at": "2026-03-02 15:30Z", "v": 8}
    with pytest.raises(IntegrityError), db.begin_nested():  # and once from now on
        db.execute(insert, again)
