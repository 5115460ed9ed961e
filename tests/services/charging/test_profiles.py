"""Which answers to a charging profile mean the charger refuses profiles, and how a
composite schedule is judged against the profile sent (W and A)."""

from datetime import UTC, datetime

import pytest

from portal.models import ChargerCommand, CommandAction, CommandStatus
from portal.services.charging import profiles
from portal.services.charging.commands import CALL_ERROR, NO_ANSWER, REJECTED


@pytest.mark.parametrize(
    ("status", "response", "error", "detail", "refused"),
    [
        (CommandStatus.REJECTED, {"status": "NotSupported"}, REJECTED, None, True),
        (CommandStatus.REJECTED, {"status": "Rejected"}, REJECTED, None, True),
        (CommandStatus.FAILED, None, CALL_ERROR, "NotImplemented: no handler", True),
        (CommandStatus.FAILED, None, CALL_ERROR, "NotSupported: SetChargingProfile", True),
        (CommandStatus.FAILED, None, CALL_ERROR, "InternalError: oops", False),
        (CommandStatus.FAILED, None, NO_ANSWER, None, False),
        (CommandStatus.ACCEPTED, {"status": "Accepted"}, None, None, False),
    ],
)
def test_a_refusal_is_told_from_other_failures(status, response, error, detail, refused):
    command = ChargerCommand(
        action=CommandAction.SET_CHARGING_PROFILE,
        status=status,
        response=response,
        error=error,
        error_detail=detail,
    )
    assert profiles.refused(command) is refused


START = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)


def _schedule(unit, limits):
    return {
        "status": "Accepted",
        "schedule": {
            "evse_id": 1,
            "duration": 3600,
            "schedule_start": "2026-12-08T04:05:00Z",
            "charging_rate_unit": unit,
            "charging_schedule_period": [
                {"start_period": s, "limit": limit, "number_phases": 3} for s, limit in limits
            ],
        },
    }


@pytest.mark.parametrize(
    ("unit", "limits", "verdict"),
    [
        ("W", [(0, 11000), (600, 22000)], profiles.CONFIRMED),
        ("W", [(0, 11050), (600, 21950)], profiles.CONFIRMED),  # within 100 W
        ("W", [(0, 11000), (600, 16000)], profiles.DIFFERS),  # a lower local limit
        ("A", [(0, 15.9), (600, 31.9)], profiles.CONFIRMED),
        ("A", [(0, 15.9), (600, 30.0)], profiles.DIFFERS),  # 1.9 A per phase short
    ],
)
def test_a_composite_schedule_confirms_the_profile_within_the_tolerance(
    db, make_charger, unit, limits, verdict
):
    charger = make_charger()
    sent = ChargerCommand(
        charger_id=charger.id,
        action=CommandAction.SET_CHARGING_PROFILE,
        params={
            "evse_id": 1,
            "start_at": "2026-12-08T04:00:00Z",
            "periods": [{"start_s": 0, "limit_kw": "11"}, {"start_s": 900, "limit_kw": "22"}],
            "unit": unit,
        },
        status=CommandStatus.ACCEPTED,
        response={"status": "Accepted"},
    )
    db.add(sent)
    db.flush()
    asked = ChargerCommand(
        charger_id=charger.id,
        action=CommandAction.GET_COMPOSITE_SCHEDULE,
        params={"evse_id": 1, "duration_s": 3600, "unit": unit, "confirms": sent.id},
        status=CommandStatus.ACCEPTED,
        response=_schedule(unit, limits),
    )
    db.add(asked)
    db.flush()
    assert profiles.check_composite(db, asked) == verdict
    assert sent.response["status"] == "Accepted"
    assert sent.response["composite"]["verdict"] == verdict
    assert sent.response["composite"]["command_id"] == asked.id


@pytest.mark.parametrize(("running", "recorded"), [(True, True), (False, False)])
def test_a_tx_profile_rejected_after_its_transaction_ended_does_not_mark_the_charger(
    db, make_charger, make_charging_session, running, recorded
):
    charger = make_charger()
    if running:
        make_charging_session(charger, transaction_id="77")
    command = ChargerCommand(
        charger_id=charger.id,
        action=CommandAction.SET_CHARGING_PROFILE,
        params={"evse_id": 1, "purpose": "tx", "transaction_id": "77", "periods": []},
        status=CommandStatus.REJECTED,
        response={"status": "Rejected"},
        error=REJECTED,
    )
    db.add(command)
    db.flush()
    assert profiles.after_answer(db, command) is None
    assert (charger.profiles_refused_at is not None) is recorded
