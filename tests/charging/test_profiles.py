"""Charging profiles as a charger applies them (`charging.profiles`), and the simulated
chargers that keep them: stack levels, purposes, units, future periods, clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from charging import profiles as cp
from charging.simulate import ChargerSpec, Sim16

T0 = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)


def _16(connector_id, purpose, periods, *, unit="W", stack=1, id=1, start=T0, **extra):
    return cp.profile_from_16(
        connector_id,
        {
            "charging_profile_id": id,
            "stack_level": stack,
            "charging_profile_purpose": purpose,
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "start_schedule": start.isoformat(),
                "charging_rate_unit": unit,
                "charging_schedule_period": [
                    {"start_period": s, "limit": limit} for s, limit in periods
                ],
            },
            **extra,
        },
    )


def test_a_profile_limits_from_each_period_start_and_not_before_its_first():
    profile = _16(1, "TxDefaultProfile", [(900, 11000), (1800, 22000)])
    assert profile.limit_kw(T0) is None  # a slot in the future: not yet in effect
    assert profile.limit_kw(T0 + timedelta(seconds=900)) == pytest.approx(11.0)
    assert profile.limit_kw(T0 + timedelta(seconds=1799)) == pytest.approx(11.0)
    assert profile.limit_kw(T0 + timedelta(hours=5)) == pytest.approx(22.0)


def test_amperes_are_per_phase_at_230_volts_on_three_phases_unless_told():
    three = _16(1, "TxDefaultProfile", [(0, 16)], unit="A")
    assert three.limit_kw(T0) == pytest.approx(16 * 230 * 3 / 1000)
    one = cp.profile_from_201(
        1,
        {
            "id": 2,
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": 2,
                    "start_schedule": T0.isoformat(),
                    "charging_rate_unit": "A",
                    "charging_schedule_period": [
                        {"start_period": 0, "limit": 32, "number_phases": 1}
                    ],
                }
            ],
        },
    )
    assert one.limit_kw(T0) == pytest.approx(32 * 230 / 1000)


def test_the_composite_takes_the_highest_stack_tx_over_default_and_the_maximum_caps():
    profiles = [
        _16(0, "TxDefaultProfile", [(0, 50000)], id=1, stack=0),  # the whole charger
        _16(1, "TxDefaultProfile", [(0, 40000)], id=2, stack=0),  # this outlet wins over 0
        _16(1, "TxDefaultProfile", [(0, 30000)], id=3, stack=2),  # a higher stack level
        _16(1, "TxProfile", [(0, 20000)], id=4, transaction_id=77),
        _16(0, "ChargePointMaxProfile", [(0, 25000), (600, 10000)], id=5),
    ]
    assert cp.limit_kw(profiles[:2], 2, T0) == pytest.approx(50.0)
    assert cp.limit_kw(profiles[:2], 1, T0) == pytest.approx(40.0)
    assert cp.limit_kw(profiles[:3], 1, T0) == pytest.approx(30.0)
    assert cp.limit_kw(profiles[:4], 1, T0) == pytest.approx(30.0)  # no transaction
    assert cp.limit_kw(profiles[:4], 1, T0, "77") == pytest.approx(20.0)
    assert cp.limit_kw(profiles[:4], 1, T0, "78") == pytest.approx(30.0)  # another one's
    assert cp.limit_kw(profiles, 1, T0, "77") == pytest.approx(20.0)
    assert cp.limit_kw(profiles, 1, T0 + timedelta(minutes=10), "77") == pytest.approx(10.0)
    assert cp.limit_kw([], 1, T0) is None


def test_the_composite_schedule_has_a_period_per_change_and_the_rating_elsewhere():
    profiles = [_16(1, "TxDefaultProfile", [(900, 11000), (1800, 22000)])]
    periods = cp.composite_kw(profiles, 1, T0, 3600, default_kw=60.0)
    assert periods == [cp.Period(0, 60.0), cp.Period(900, 11.0), cp.Period(1800, 22.0)]
    sent = [cp.Period(0, 60.0), cp.Period(900, 11.0), cp.Period(1800, 22.0)]
    later = T0 + timedelta(seconds=300)
    answered = cp.composite_kw(profiles, 1, later, 3000, default_kw=60.0)
    assert cp.largest_difference(sent, T0, answered, later, 3000) == pytest.approx(0.0)
    lower = [cp.Period(0, 60.0), cp.Period(300, 11.0)]  # 11 kW from T0 + 600 s
    assert cp.largest_difference(sent, T0, lower, later, 3000) == pytest.approx(49.0)


def _sim() -> Sim16:
    sim = Sim16("CP-1", None)
    sim.init_sim(ChargerSpec("CP-1", "secret"), meter_interval=1.0)
    return sim


def test_the_simulated_charger_keeps_replaces_and_clears_its_profiles():
    sim = _sim()
    outlet = sim.outlets[1]
    assert sim.install_profile(_16(1, "TxProfile", [(0, 20000)])) == "Rejected"  # no session
    assert sim.install_profile(_16(3, "TxDefaultProfile", [(0, 20000)])) == "Rejected"
    assert sim.install_profile(_16(1, "TxDefaultProfile", [(0, 20000)], id=7)) == "Accepted"
    assert sim.install_profile(_16(1, "TxDefaultProfile", [(0, 15000)], id=8)) == "Accepted"
    assert len(sim.profiles) == 1  # same purpose, stack level and outlet: replaced
    assert sim.limit_now(outlet, T0) == pytest.approx(15.0)

    outlet.transaction_id, outlet.started_at = "77", T0
    tx = _16(1, "TxProfile", [(0, 7000)], id=9, stack=1, transaction_id=77)
    assert sim.install_profile(tx) == "Accepted"
    assert sim.limit_now(outlet, T0) == pytest.approx(7.0)
    sim.transaction_ended(outlet)  # a TxProfile ends with its transaction
    outlet.transaction_id = None
    assert sim.limit_now(outlet, T0) == pytest.approx(15.0)

    assert not sim.clear_profiles(profile_id=99)
    assert sim.clear_profiles(evse_id=1, purpose="TxDefaultProfile")
    assert sim.limit_now(outlet, T0) is None
