"""Fixtures shared by the web layer's tests."""

from datetime import timedelta

import pytest

from portal import clock as portal_clock
from portal.models import VehicleStatus
from telemetry import store as ingest
from telemetry.codec import make_record


@pytest.fixture
def owing_driver(make_contract, make_charge):
    contract = make_contract()
    make_charge(contract.driver, 350_000, contract_id=contract.id)
    return contract.driver


@pytest.fixture
def report(db):
    """A tracker's frame for `vehicle`, stored as the listener stores it."""

    def send(vehicle, soc, *, minutes_ago=2, charging=False, speed=0, odometer=25_000_000):
        at = portal_clock.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
        record = make_record(
            at,
            latitude=19.4326,
            longitude=-99.1332,
            satellites=9,
            speed=speed,
            io={239: int(speed > 0), 152: soc, 304: soc * 3_800, 915: int(charging), 87: odometer},
        )
        ingest.store_records(db, [(vehicle.tracker_imei, record)], at)
        db.expire_all()

    return send


@pytest.fixture
def fleet(make_depot, make_vehicle, make_contract):
    north, south = make_depot(name="Depósito Norte"), make_depot(name="Depósito Sur")
    cars = [make_vehicle(depot=north, plate=f"NOR-{i:03d}-A") for i in range(30)]
    cars[0].status = VehicleStatus.LEASED
    cars += [make_vehicle(depot=south, plate="SUR-777-B", status=VehicleStatus.IN_REPAIR)]
    make_contract(vehicle=cars[0])
    return north, south, cars
