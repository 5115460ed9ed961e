"""Remote commands: from the portal's vocabulary (`CommandAction` + clean params) to an
OCPP call for the charger's version, and from the charger's answer back to a status.

`build()` returns the OCPP action name and its payload in snake_case (JSON-safe, stored
in the command log); the CSMS turns it into the `ocpp` library's call dataclass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from charging.profiles import PHASES, from_kw
from portal.models import CommandAction, CommandStatus, OcppVersion

A = CommandAction

_TRIGGER_201 = {
    "DiagnosticsStatusNotification": "LogStatusNotification",
}
_PURPOSE_16 = {"tx_default": "TxDefaultProfile", "max": "ChargePointMaxProfile", "tx": "TxProfile"}
_PURPOSE_201 = {
    "tx_default": "TxDefaultProfile",
    "max": "ChargingStationMaxProfile",
    "tx": "TxProfile",
}


class CommandNotSupported(ValueError):
    """The action has no equivalent in the charger's OCPP version."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _watts(kw: str) -> float:
    return round(float(kw) * 1000, 1)


def _periods(p: dict[str, Any]) -> list[dict[str, Any]]:
    """The schedule's periods in the unit asked: W, or A per phase (AC, `PHASES` phases at
    `VOLTS`, `charging.profiles`)."""
    if p.get("unit") == "A":
        return [
            {
                "start_period": period["start_s"],
                "limit": from_kw(float(period["limit_kw"]), "A"),
                "number_phases": PHASES,
            }
            for period in p["periods"]
        ]
    return [
        {"start_period": period["start_s"], "limit": _watts(period["limit_kw"])}
        for period in p["periods"]
    ]


def _split_key(key: str) -> tuple[str, str]:
    """2.0.1 addresses a setting as Component/Variable; a bare name is the comm. controller's."""
    if "/" in key:
        component, variable = key.split("/", 1)
        return component, variable
    return "OCPPCommCtrlr", key


def build(
    version: OcppVersion | str | None,
    action: CommandAction,
    params: dict[str, Any],
    command_id: int,
) -> tuple[str, dict[str, Any]]:
    """(OCPP action, snake_case payload) for `action` on a charger speaking `version`."""
    if OcppVersion(version or OcppVersion.V16) == OcppVersion.V201:
        return _build_201(action, params, command_id)
    return _build_16(action, params)


def _build_16(action: CommandAction, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if action == A.REMOTE_START:
        return "RemoteStartTransaction", {"id_tag": p["id_tag"], "connector_id": p.get("evse_id")}
    if action == A.REMOTE_STOP:
        return "RemoteStopTransaction", {"transaction_id": int(p["transaction_id"])}
    if action == A.UNLOCK_CONNECTOR:
        return "UnlockConnector", {"connector_id": p["evse_id"]}
    if action == A.RESET:
        return "Reset", {"type": p["type"].capitalize()}
    if action == A.CHANGE_AVAILABILITY:
        kind = "Operative" if p["operative"] else "Inoperative"
        return "ChangeAvailability", {"connector_id": p["evse_id"], "type": kind}
    if action == A.RESERVE_NOW:
        return "ReserveNow", {
            "connector_id": p["evse_id"],
            "expiry_date": p["expires_at"],
            "id_tag": p["id_tag"],
            "reservation_id": p["reservation_id"],
        }
    if action == A.CANCEL_RESERVATION:
        return "CancelReservation", {"reservation_id": p["reservation_id"]}
    if action == A.TRIGGER_MESSAGE:
        return "TriggerMessage", {
            "requested_message": p["message"],
            "connector_id": p.get("evse_id"),
        }
    if action == A.GET_CONFIGURATION:
        return "GetConfiguration", {"key": p["keys"] or None}
    if action == A.CHANGE_CONFIGURATION:
        return "ChangeConfiguration", {"key": p["key"], "value": p["value"]}
    if action == A.SET_CHARGING_PROFILE:
        profile: dict[str, Any] = {
            "charging_profile_id": p["profile_id"],
            "stack_level": p["stack_level"],
            "charging_profile_purpose": _PURPOSE_16[p["purpose"]],
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "start_schedule": p.get("start_at") or _now(),
                "charging_rate_unit": p.get("unit", "W"),
                "charging_schedule_period": _periods(p),
            },
        }
        if p.get("valid_to"):
            profile["valid_to"] = p["valid_to"]
        if p["purpose"] == "tx" and p.get("transaction_id"):
            profile["transaction_id"] = int(p["transaction_id"])
        return "SetChargingProfile", {"connector_id": p["evse_id"], "cs_charging_profiles": profile}
    if action == A.CLEAR_CHARGING_PROFILE:
        return "ClearChargingProfile", {"id": p.get("profile_id"), "connector_id": p.get("evse_id")}
    if action == A.GET_COMPOSITE_SCHEDULE:
        return "GetCompositeSchedule", {
            "connector_id": p["evse_id"],
            "duration": p["duration_s"],
            "charging_rate_unit": p.get("unit"),
        }
    raise CommandNotSupported(action)


def _build_201(
    action: CommandAction, p: dict[str, Any], command_id: int
) -> tuple[str, dict[str, Any]]:
    if action == A.REMOTE_START:
        return "RequestStartTransaction", {
            "id_token": {"id_token": p["id_tag"], "type": "ISO14443"},
            "remote_start_id": command_id,
            "evse_id": p.get("evse_id"),
        }
    if action == A.REMOTE_STOP:
        return "RequestStopTransaction", {"transaction_id": str(p["transaction_id"])}
    if action == A.UNLOCK_CONNECTOR:
        return "UnlockConnector", {"evse_id": p["evse_id"], "connector_id": 1}
    if action == A.RESET:
        return "Reset", {"type": "Immediate" if p["type"] == "hard" else "OnIdle"}
    if action == A.CHANGE_AVAILABILITY:
        status = "Operative" if p["operative"] else "Inoperative"
        evse = {"id": p["evse_id"]} if p["evse_id"] else None
        return "ChangeAvailability", {"operational_status": status, "evse": evse}
    if action == A.RESERVE_NOW:
        return "ReserveNow", {
            "id": p["reservation_id"],
            "expiry_date_time": p["expires_at"],
            "id_token": {"id_token": p["id_tag"], "type": "ISO14443"},
            "evse_id": p["evse_id"],
        }
    if action == A.CANCEL_RESERVATION:
        return "CancelReservation", {"reservation_id": p["reservation_id"]}
    if action == A.TRIGGER_MESSAGE:
        message = _TRIGGER_201.get(p["message"], p["message"])
        evse = {"id": p["evse_id"]} if p.get("evse_id") else None
        return "TriggerMessage", {"requested_message": message, "evse": evse}
    if action == A.GET_CONFIGURATION:
        data = []
        for key in p["keys"]:
            component, variable = _split_key(key)
            data.append({"component": {"name": component}, "variable": {"name": variable}})
        return "GetVariables", {"get_variable_data": data}
    if action == A.CHANGE_CONFIGURATION:
        component, variable = _split_key(p["key"])
        return "SetVariables", {
            "set_variable_data": [
                {
                    "attribute_value": p["value"],
                    "component": {"name": component},
                    "variable": {"name": variable},
                }
            ]
        }
    if action == A.SET_CHARGING_PROFILE:
        profile: dict[str, Any] = {
            "id": p["profile_id"],
            "stack_level": p["stack_level"],
            "charging_profile_purpose": _PURPOSE_201[p["purpose"]],
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": p["profile_id"],
                    "start_schedule": p.get("start_at") or _now(),
                    "charging_rate_unit": p.get("unit", "W"),
                    "charging_schedule_period": _periods(p),
                }
            ],
        }
        if p.get("valid_to"):
            profile["valid_to"] = p["valid_to"]
        if p["purpose"] == "tx" and p.get("transaction_id"):
            profile["transaction_id"] = str(p["transaction_id"])
        return "SetChargingProfile", {"evse_id": p["evse_id"], "charging_profile": profile}
    if action == A.CLEAR_CHARGING_PROFILE:
        criteria = {"evse_id": p["evse_id"]} if p.get("evse_id") is not None else None
        return "ClearChargingProfile", {
            "charging_profile_id": p.get("profile_id"),
            "charging_profile_criteria": criteria,
        }
    if action == A.GET_COMPOSITE_SCHEDULE:
        return "GetCompositeSchedule", {
            "evse_id": p["evse_id"],
            "duration": p["duration_s"],
            "charging_rate_unit": p.get("unit"),
        }
    raise CommandNotSupported(action)


_YES = {"Accepted", "Unlocked", "RebootRequired"}


def outcome(response: dict[str, Any]) -> CommandStatus:
    """ACCEPTED or REJECTED from the charger's answer (snake_case, as the library gives it)."""
    status = response.get("status")
    if status is None and "set_variable_result" in response:
        results = response["set_variable_result"] or [{}]
        status = results[0].get("attribute_status")
    if status is None:  # GetConfiguration / GetVariables carry data, not a status
        return CommandStatus.ACCEPTED
    return CommandStatus.ACCEPTED if status in _YES else CommandStatus.REJECTED
