"""The schema: Alembic's migrations build exactly the models, and the database
itself refuses bad data."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from portal.models import Base, ContractStatus
from portal.models.telemetry import include_in_schema_compare


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
