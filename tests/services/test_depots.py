"""Depots: code, address, time zone, site limit, CFE tariffs as dated data, retirement."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.models import AuditEvent, Role, TariffKind, TariffPeriod, VehicleStatus
from portal.services import DomainError, FieldError, depots
from portal.timeutil import local_today

P = TariffPeriod
TODAY = local_today()


def _depot_data(**kw):
    values = {
        "code": "vlj",
        "name": "Vallejo",
        "address": "Calz. Vallejo 1090, Azcapotzalco",
        "timezone": "America/Mexico_City",
        "site_power_kw": Decimal("250"),
    }
    return depots.DepotData(**(values | kw))


def _gdmth(**kw):
    values = {
        "kind": TariffKind.GDMTH,
        "effective_from": TODAY,
        "energy_mxn_per_kwh": {
            P.BASE: Decimal("0.8912"),
            P.INTERMEDIA: Decimal("1.4621"),
            P.PUNTA: Decimal("1.6034"),
        },
        "capacity_mxn_per_kw": Decimal("420.10"),
        "distribution_mxn_per_kw": Decimal("58.90"),
        "fixed_mxn_per_month": Decimal("527.00"),
        "transmission_mxn_per_kwh": Decimal("0.18"),
    }
    return depots.TariffData(**(values | kw))


def test_a_depot_with_its_tariff(db, make_user):
    admin = make_user(Role.ADMIN)
    depot = depots.create_depot(db, _depot_data(), _gdmth(), actor_id=admin.id)
    assert depot.code == "VLJ"
    (tariff,) = depots.tariff_history(db, depot.id)
    assert tariff.price(P.PUNTA) == Decimal("1.6034")
    assert depot.cfe_tariff == "GDMTH"
    actions = [
        a
        for (a,) in db.query(AuditEvent.action).filter_by(
            entity_id=str(depot.id), entity_type="depots"
        )
    ]
    assert actions == ["depot.created", "depot.tariff_set"]


def test_the_stored_tariff_maps_onto_the_engine(db, make_user):
    depot = depots.create_depot(db, _depot_data(), _gdmth(), actor_id=make_user(Role.ADMIN).id)
    engine = depots.engine_fields(depots.tariff_history(db, depot.id)[0])
    assert engine["kind"] == "GDMTH"
    assert engine["energy_mxn_per_kwh"] == {"base": 0.8912, "intermedia": 1.4621, "punta": 1.6034}
    assert engine["capacity_mxn_per_kw"] == 420.1


def test_gdmto_has_one_price_and_prices_change_from_a_date(db, make_user):
    admin = make_user(Role.ADMIN)
    depot = depots.create_depot(db, _depot_data(), _gdmth(), actor_id=admin.id)
    later = TODAY + timedelta(days=30)
    depots.set_tariff(
        db,
        depot,
        _gdmth(
            kind=TariffKind.GDMTO,
            effective_from=later,
            energy_mxn_per_kwh={P.UNICA: Decimal("1.699")},
        ),
        actor_id=admin.id,
    )
    assert [t.kind for t in depots.tariff_history(db, depot.id)] == [
        TariffKind.GDMTO,
        TariffKind.GDMTH,
    ]
    assert depots.current_tariff(db, depot.id, TODAY).kind == TariffKind.GDMTH
    assert depots.current_tariff(db, depot.id, later).kind == TariffKind.GDMTO
    with pytest.raises(FieldError) as error:
        depots.set_tariff(
            db, depot, _gdmth(energy_mxn_per_kwh={P.UNICA: Decimal(1)}), actor_id=admin.id
        )
    assert error.value.field == "kind"
    with pytest.raises(FieldError) as error:  # the past stays as it was billed
        depots.set_tariff(
            db, depot, _gdmth(effective_from=TODAY - timedelta(days=1)), actor_id=admin.id
        )
    assert error.value.field == "effective_from"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "VLJ VLJ"}, "code"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"site_power_kw": Decimal(0)}, "site_power_kw"),
        ({"address": ""}, "address"),
    ],
)
def test_bad_depot_data_is_the_fields_error(db, make_user, change, field):
    with pytest.raises(FieldError) as error:
        depots.create_depot(db, _depot_data(**change), _gdmth(), actor_id=make_user(Role.ADMIN).id)
    assert error.value.field == field


def test_a_duplicate_code_and_a_negative_price(db, make_user, make_depot):
    make_depot(code="AZC")
    admin = make_user(Role.ADMIN)
    with pytest.raises(FieldError, match="code"):
        depots.create_depot(db, _depot_data(code="azc"), _gdmth(), actor_id=admin.id)
    bad = _gdmth(
        energy_mxn_per_kwh={P.BASE: Decimal(-1), P.INTERMEDIA: Decimal(1), P.PUNTA: Decimal(2)}
    )
    with pytest.raises(FieldError) as error:
        depots.create_depot(db, _depot_data(), bad, actor_id=admin.id)
    assert error.value.field == "energy_base"


def test_a_depot_retires_once_its_cars_are_gone(db, make_user, make_depot, make_vehicle):
    admin = make_user(Role.ADMIN)
    depot = make_depot()
    car = make_vehicle(depot=depot)
    with pytest.raises(DomainError, match="cars"):
        depots.retire_depot(db, depot, actor_id=admin.id)
    car.status = VehicleStatus.SOLD
    depots.retire_depot(db, depot, actor_id=admin.id)
    assert depot.is_retired
    assert depot not in depots.list_depots(db)
