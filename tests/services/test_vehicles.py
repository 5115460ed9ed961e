"""Vehicles: the catalogue, checked VIN/plate/IMEI, the lifecycle and its history."""

from decimal import Decimal

import pytest

from portal.models import ConnectorType, Role, VehicleStatus
from portal.services import DomainError, FieldError, vehicles
from portal.timeutil import local_today

S = VehicleStatus
YEAR = local_today().year


def _data(catalogue, depot, vin=None, **kw):
    values = {
        "vin": vin,
        "plate": "abc 123 a",
        "model_id": catalogue.id,
        "year": YEAR,
        "depot_id": depot.id,
        "tracker_imei": None,
    }
    return vehicles.VehicleData(**(values | kw))


def test_a_car_of_the_catalogue_starts_in_preparation(
    db, make_user, make_depot, catalogue, vin_for, imei_for
):
    staff = make_user(Role.STAFF)
    car = vehicles.add_vehicle(
        db,
        _data(catalogue, make_depot(), vin_for(1).lower(), tracker_imei=imei_for(1)),
        actor_id=staff.id,
        today_year=YEAR,
    )
    assert car.vin == vin_for(1)
    assert car.plate == "ABC-123-A"
    assert car.status == S.IN_PREPARATION
    assert (car.make, car.battery_kwh, car.connector_type) == (
        "BYD",
        Decimal("38.8"),
        ConnectorType.CCS2,
    )
    assert [e.action for e in vehicles.history(db, car.id)] == ["vehicle.added"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vin": "LGXCE4CB0S000000"}, "vin"),  # 16 characters
        ({"vin": "LGXCE4CB0S000000O"}, "vin"),  # an O
        ({"plate": "A1"}, "plate"),
        ({"tracker_imei": "356938035643808"}, "tracker_imei"),  # Luhn digit wrong
        ({"year": 2004}, "year"),
    ],
)
def test_bad_car_data_is_the_fields_error(db, make_depot, catalogue, vin_for, change, field):
    with pytest.raises(FieldError) as error:
        vehicles.add_vehicle(
            db,
            _data(catalogue, make_depot(), **({"vin": vin_for(2)} | change)),
            actor_id=None,
            today_year=YEAR,
        )
    assert error.value.field == field


def test_a_wrong_check_digit_says_so(db, make_depot, catalogue, vin_for):
    vin = vin_for(3)
    wrong = vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]
    with pytest.raises(FieldError, match="check digit"):
        vehicles.add_vehicle(
            db, _data(catalogue, make_depot(), wrong), actor_id=None, today_year=YEAR
        )


@pytest.mark.parametrize("field", ["vin", "plate", "tracker_imei"])
def test_a_duplicate_vin_plate_or_imei_is_the_fields_error(
    db, make_depot, catalogue, vin_for, imei_for, field
):
    depot = make_depot()
    vehicles.add_vehicle(
        db,
        _data(catalogue, depot, vin_for(4), plate="AAA-111", tracker_imei=imei_for(4)),
        actor_id=None,
        today_year=YEAR,
    )
    other = {"vin": vin_for(5), "plate": "BBB-222", "tracker_imei": imei_for(5)}
    other[field] = {"vin": vin_for(4), "plate": "aaa 111", "tracker_imei": imei_for(4)}[field]
    with pytest.raises(FieldError) as error:
        vehicles.add_vehicle(db, _data(catalogue, depot, **other), actor_id=None, today_year=YEAR)
    assert error.value.field == field


def test_the_lifecycle_by_hand_with_reasons(db, make_user, make_vehicle):
    staff = make_user(Role.STAFF)
    car = make_vehicle(status=S.IN_PREPARATION)
    vehicles.change_status(db, car, S.AVAILABLE, actor_id=staff.id, reason="placas y GPS listos")
    vehicles.change_status(db, car, S.IN_REPAIR, actor_id=staff.id, reason="cambio de llantas")
    vehicles.change_status(db, car, S.AVAILABLE, actor_id=staff.id, reason="listo")
    with pytest.raises(FieldError, match="contract"):
        vehicles.change_status(db, car, S.LEASED, actor_id=staff.id, reason="a mano")
    vehicles.change_status(db, car, S.SOLD, actor_id=staff.id, reason="vendido a flotilla")
    assert car.is_retired
    assert vehicles.allowed_moves(db, car) == []
    changes = [
        (e.details["before"], e.details["after"]) for e in reversed(vehicles.history(db, car.id))
    ]
    assert changes == [
        ("in_preparation", "available"),
        ("available", "in_repair"),
        ("in_repair", "available"),
        ("available", "sold"),
    ]


def test_a_leased_car_comes_back_from_repair_leased(db, make_user, make_contract):
    staff = make_user(Role.STAFF)
    car = make_contract().vehicle
    vehicles.change_status(db, car, S.IN_REPAIR, actor_id=staff.id, reason="choque leve")
    with pytest.raises(FieldError, match="end it first"):
        vehicles.change_status(db, car, S.WRITTEN_OFF, actor_id=staff.id, reason="pérdida")
    vehicles.change_status(db, car, S.AVAILABLE, actor_id=staff.id, reason="reparado")
    assert car.status == S.LEASED


def test_a_car_with_history_is_never_deleted(db, make_user, make_vehicle, make_contract):
    admin = make_user(Role.ADMIN)
    leased = make_contract().vehicle
    with pytest.raises(DomainError, match="history"):
        vehicles.delete_vehicle(db, leased, actor_id=admin.id)
    mistake = make_vehicle()
    vehicles.delete_vehicle(db, mistake, actor_id=admin.id)
    assert db.get(type(mistake), mistake.id) is None


def test_the_catalogue_refuses_a_duplicate(db, catalogue):
    data = vehicles.ModelData("byd", "dolphin mini", Decimal("38.8"), 380, ConnectorType.CCS2)
    with pytest.raises(FieldError, match="catalogue"):
        vehicles.add_model(db, data, actor_id=None)
    smaller = vehicles.ModelData("BYD", "Dolphin Mini", Decimal("30"), 300, ConnectorType.CCS2)
    assert vehicles.add_model(db, smaller, actor_id=None).label == "BYD Dolphin Mini 30.0 kWh"
