"""A depot's plan sent to a charger: plan -> SetChargingProfile on the command bus -> RQ
job -> CSMS -> a simulated charger, which limits its outlet to the plan's power now."""

from __future__ import annotations

from decimal import Decimal

import pytest

from charging.commands import build
from charging.simulate import ChargerSpec
from portal.db import utcnow
from portal.models import ChargerCommand, CommandAction, CommandStatus
from portal.services.charging import smart
from tests.services.charging.test_smart import _soc, _tariff
from tests.waiting import wait_until
from workers.ocpp import enqueue_command

from .conftest import CHARGER_PASSWORD
from .test_commands import SimThread, work


def test_the_plan_reaches_the_charger_as_a_tx_profile(
    csms, db, job_queues, make_depot, make_charger, make_vehicle, make_charging_session
):
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot)  # two 60 kW connectors
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, car, 30)
    db.commit()
    sim = SimThread(csms.url, ChargerSpec(charger.identity, CHARGER_PASSWORD, "ocpp1.6"))
    try:
        assert wait_until(lambda: db.expire_all() or db.get(type(charger), charger.id).is_online())
        # The session starts once the charger is up: a session open before its boot is
        # one the reboot ended (closed as lost).
        make_charging_session(charger, vehicle_id=car.id, transaction_id="77")
        plan = smart.plan_depot(db, depot).plan
        db.commit()
        now = utcnow()
        (command,) = smart.send_plan(db, plan, now)
        db.commit()
        enqueue_command(command)
        work(job_queues)
        db.expire_all()
        sent = db.get(ChargerCommand, command.id)
        assert sent.status == CommandStatus.ACCEPTED
        profile = sent.request_payload["cs_charging_profiles"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == 77
        assert profile["charging_schedule"]["charging_rate_unit"] == "W"  # 60 kW: DC
        slot = round((smart.slot_start(now) - plan.start_at) / smart.SLOT)
        planned_now = plan.schedule[f"v{car.id}"][slot]
        assert sim.charger.outlets[1].limit_kw == pytest.approx(round(planned_now, 1))
    finally:
        sim.close()


def test_an_ac_connector_is_limited_in_amperes_per_phase():
    params = {
        "evse_id": 1,
        "profile_id": 4201,
        "stack_level": 1,
        "purpose": "tx_default",
        "periods": [{"start_s": 0, "limit_kw": "0.0"}, {"start_s": 900, "limit_kw": "11.0"}],
        "unit": "A",
        "start_at": "2026-12-08T04:00:00Z",
    }
    _, payload = build("ocpp2.0.1", CommandAction.SET_CHARGING_PROFILE, params, 1)
    schedule = payload["charging_profile"]["charging_schedule"][0]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["start_schedule"] == "2026-12-08T04:00:00Z"
    assert [p["limit"] for p in schedule["charging_schedule_period"]] == [
        0.0,
        15.9,
    ]  # 11 kW / 690 V
