"""The managers' smart-charging page: each depot's plan as a chart against the site
limit with punta shaded, its cost against uncontrolled charging, and the switch."""

import re
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import select

from portal.db import utcnow
from portal.models import (
    AuditEvent,
    ChargerCommand,
    CommandAction,
    CommandStatus,
    ConnectorType,
    Role,
)
from portal.services.charging import smart
from tests.services.charging.test_smart import NOW, _soc, _tariff


def test_managers_see_the_plan_its_saving_and_turn_planning_on(
    client,
    login,
    db,
    make_user,
    make_depot,
    make_charger,
    make_vehicle,
    make_charging_session,
    redis_queues,
):
    depot = make_depot(name="Depósito Vallejo", site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60")])
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"), plate="SMT-001")
    _soc(db, car, 30)
    make_charging_session(charger, vehicle_id=car.id)
    plan = smart.plan_depot(db, depot, NOW).plan
    db.commit()
    manager = make_user(Role.MANAGER)
    login(manager)
    page = client.get("/gerencia/carga-inteligente")
    assert page.status_code == 200
    html = page.text
    assert "Depósito Vallejo" in html
    assert "La planeación está apagada" in html
    assert 'class="shade"' in html  # punta shaded
    assert 'class="limit"' in html  # the site's 100 kW
    assert "SMT-001" in html
    saving = plan.uncontrolled_cost_cents - plan.cost_cents
    assert f"{saving / 100:,.2f}" in html
    sent = client.post(f"/gerencia/carga-inteligente/{depot.id}", data={"enabled": "on"})
    assert sent.status_code == 303
    assert smart.planning_enabled(db, depot.id)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "depot.smart_charging"))
    assert event.actor_id == manager.id
    assert "La planeación está encendida" in client.get("/gerencia/carga-inteligente").text
    # The depot is planned at once, not at the next quarter hour.
    (job,) = Queue("default", connection=redis_queues).get_jobs()
    assert (job.func_name, job.args) == ("workers.smart_charging.replan_depot_job", (depot.id,))


def test_a_bad_switch_is_refused(client, login, make_user, make_depot):
    login(make_user(Role.MANAGER))
    depot = make_depot()
    assert (
        client.post(f"/gerencia/carga-inteligente/{depot.id}", data={"enabled": "x"}).status_code
        == 422
    )
    assert (
        client.post("/gerencia/carga-inteligente/999999", data={"enabled": "on"}).status_code == 404
    )


@pytest.fixture
def charging_driver(
    db, make_depot, make_charger, make_vehicle, make_contract, make_charging_session
):
    """A driver whose 60 kWh car is plugged in at 30 % at a 100 kW depot with a tariff."""
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60")])
    contract = make_contract(vehicle=make_vehicle(depot=depot, battery_kwh=Decimal("60")))
    _soc(db, contract.vehicle, 30)
    make_charging_session(charger, vehicle_id=contract.vehicle_id, driver_id=contract.driver_id)
    return contract


def test_the_driver_sees_when_their_car_will_be_ready(client, login, db, charging_driver):
    contract = charging_driver
    depot = contract.vehicle.depot
    smart.plan_depot(db, depot, NOW)
    db.commit()
    ready = smart.ready_at(db, contract.vehicle_id)
    assert NOW < ready.at <= NOW + timedelta(hours=12)  # by 06:00
    login(contract.driver.user)
    fragment = client.get("/conductor/cargar/en-curso", headers={"HX-Request": "true"})
    local = ready.at.astimezone(ZoneInfo("America/Mexico_City")).strftime("%H:%M")
    assert f"Tu auto estará al 90 % a las {local}." in fragment.text


def test_staff_see_on_the_board_which_cars_are_held_back(
    client, login, db, make_user, make_depot, make_charger, make_vehicle, make_charging_session
):
    depot = make_depot(site_power_kw=Decimal("10"))  # below the car's 60 kW: always held
    _tariff(db, depot)
    charger = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60")])
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, car, 30)
    make_charging_session(charger, vehicle_id=car.id)
    smart.set_planning(db, depot, True, actor_id=None)
    smart.plan_depot(db, depot)
    db.commit()
    login(make_user(Role.STAFF))
    text = client.get(f"/operacion/cargadores?depot={depot.id}").text
    assert "Retenido por el plan a " in text


def test_managers_and_staff_see_where_each_cars_charging_profile_stands(
    client, login, db, make_user, make_depot, make_charger, make_vehicle, make_charging_session
):
    """One charger refused profiles (its car is planned at full power); the other
    confirmed the plan's profile with its composite schedule."""
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    refusing = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60")])
    refusing.profiles_refused_at = NOW
    obeying = make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60")])
    free = make_vehicle(depot=depot, battery_kwh=Decimal("60"), plate="FRE-001")
    held = make_vehicle(depot=depot, battery_kwh=Decimal("60"), plate="OBE-001")
    for car in (free, held):
        _soc(db, car, 30)
    make_charging_session(refusing, vehicle_id=free.id)
    obeying_session = make_charging_session(obeying, vehicle_id=held.id)
    smart.set_planning(db, depot, True, actor_id=None)
    plan = smart.plan_depot(db, depot).plan
    assert plan.cars[f"v{free.id}"]["uncontrolled"] is True
    db.add(
        ChargerCommand(
            charger_id=obeying.id,
            action=CommandAction.SET_CHARGING_PROFILE,
            params={"evse_id": 1, "periods": [{"start_s": 0, "limit_kw": "20"}]},
            status=CommandStatus.ACCEPTED,
            response={"status": "Accepted", "composite": {"verdict": "confirmed"}},
            requested_at=utcnow(),
        )
    )
    db.commit()
    login(make_user(Role.MANAGER))
    html = client.get("/gerencia/carga-inteligente").text
    assert "FRE-001: Su cargador no acepta perfiles de carga: se planea a plena potencia" in html
    assert "OBE-001: Perfil confirmado por el cargador" in html
    board = client.get(f"/operacion/cargadores?depot={depot.id}").text  # managers see it too
    assert "No acepta perfiles de carga: sus autos cargan a plena potencia." in board
    assert board.count("Perfil confirmado por el cargador") == 1
    assert obeying_session.id in smart.session_profiles(db, depot.id)


def test_a_driver_chooses_how_full_and_the_plan_charges_to_it(
    client, login, db, charging_driver, redis_queues
):
    contract = charging_driver
    depot = contract.vehicle.depot
    login(contract.driver.user)
    # Planning off: nothing to choose.
    assert "¿Qué tan cargado quieres tu auto?" not in client.get("/conductor/cargar").text
    smart.set_planning(db, depot, True, actor_id=None)
    db.flush()
    page = client.get("/conductor/cargar").text
    assert "¿Qué tan cargado quieres tu auto?" in page
    assert re.search(r'<input checked[^>]*value="90"', page)  # the policy's, until chosen

    refused = client.post("/conductor/cargar/meta", data={"target": "45"})
    assert refused.status_code == 422
    assert "Elige qué tan cargado quieres tu auto." in refused.text
    db.expire_all()
    assert contract.driver.charge_target_pct is None

    saved = client.post(
        "/conductor/cargar/meta", data={"target": "100"}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200
    assert "Guardado: tu auto se cargará al 100 %." in saved.text
    db.expire_all()
    assert contract.driver.charge_target_pct == 100
    # The depot is re-planned at once, and the plan fills the car to 100 %.
    (job,) = Queue("default", connection=redis_queues).get_jobs()
    assert (job.func_name, job.args) == ("workers.smart_charging.replan_depot_job", (depot.id,))
    plan = smart.plan_depot(db, depot, NOW).plan
    assert sum(plan.schedule[f"v{contract.vehicle_id}"]) / 4 == pytest.approx(42.0, abs=0.01)
    db.flush()
    fragment = client.get("/conductor/cargar/en-curso", headers={"HX-Request": "true"})
    assert "Tu auto estará al 100 % a las" in fragment.text
