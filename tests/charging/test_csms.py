"""The OCPP server against raw OCPP-J frames: persistence, auth, sessions, bad input."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.charge_point import camel_to_snake_case
from sqlalchemy import select, text
from websockets.exceptions import ConnectionClosed, InvalidStatus

from charging.csms import snake_case
from portal.models import (
    Charger,
    ChargerConnector,
    ChargerRegistration,
    ChargingSession,
    ConnectorStatus,
    LedgerEntry,
    MeterValue,
    SessionStatus,
)
from tests.waiting import wait_until

from .conftest import CHARGER_PASSWORD
from .wire import Wire


def ts(seconds: int = 0) -> str:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC) + timedelta(seconds=seconds)
    return at.isoformat().replace("+00:00", "Z")


def boot16(wire: Wire) -> dict:
    return wire.ok(
        "BootNotification",
        {"chargePointVendor": "ABB", "chargePointModel": "Terra 54", "firmwareVersion": "1.2.3"},
    )


def test_boot_heartbeat_and_status_are_recorded(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        answer = boot16(wire)
        assert answer["status"] == "Accepted"
        assert answer["interval"] == 30
        assert "currentTime" in wire.ok("Heartbeat", {})
        wire.ok(
            "StatusNotification",
            {"connectorId": 2, "errorCode": "NoError", "status": "Charging", "timestamp": ts()},
        )
        wire.ok(
            "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
        )

        def seen():
            db.expire_all()
            row = db.get(Charger, charger.id)
            return (
                row if row.last_heartbeat_at and row.status == ConnectorStatus.AVAILABLE else None
            )

        row = wait_until(seen)
        assert row.online
        assert row.vendor == "ABB"
        assert row.firmware_version == "1.2.3"
        assert row.ocpp_version == "ocpp1.6"
        connector = db.scalar(
            select(ChargerConnector).where(
                ChargerConnector.charger_id == charger.id, ChargerConnector.evse_id == 2
            )
        )
        assert connector.status == ConnectorStatus.CHARGING
    db.expire_all()
    assert wait_until(lambda: not db.get(Charger, charger.id).online or db.expire_all())


def test_a_late_status_does_not_overwrite_a_newer_one(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        wire.ok(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": ts(60)},
        )
        wire.ok(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": ts(0)},
        )
    connector = db.scalar(
        select(ChargerConnector).where(
            ChargerConnector.charger_id == charger.id, ChargerConnector.evse_id == 1
        )
    )
    assert connector.status == ConnectorStatus.CHARGING


def test_wrong_password_is_refused_at_the_handshake(csms, make_charger):
    charger = make_charger()
    with pytest.raises(InvalidStatus) as refused:
        Wire(csms.url, charger.identity, "not-the-password-at-all")
    assert refused.value.response.status_code == 401


def test_a_user_name_other_than_the_identity_is_refused(csms, make_charger):
    charger = make_charger()
    other = make_charger()
    from websockets.sync.client import connect

    from .wire import auth

    headers = auth(other.identity, CHARGER_PASSWORD)  # right password, someone else's name
    url = f"{csms.url}/{charger.identity}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, subprotocols=["ocpp1.6"], additional_headers=headers)
    assert refused.value.response.status_code == 401


def test_unknown_identity_is_refused(csms):
    with pytest.raises(InvalidStatus) as refused:
        Wire(csms.url, "NOBODY-KNOWS-ME", CHARGER_PASSWORD)
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("identity", ["bad%2Fslash", "with space", "ñandú", "a" * 60, "semi;colon"])
def test_odd_identities_are_refused(csms, identity):
    from urllib.parse import quote

    with pytest.raises(InvalidStatus) as refused:
        Wire(csms.url, quote(identity, safe="%;"), CHARGER_PASSWORD)
    assert refused.value.response.status_code == 400


def test_a_connection_without_an_ocpp_subprotocol_is_refused(csms, make_charger):
    from websockets.sync.client import connect

    from .wire import auth

    charger = make_charger()
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"{csms.url}/{charger.identity}",
            additional_headers=auth(charger.identity, CHARGER_PASSWORD),
        )
    assert refused.value.response.status_code == 400


def test_auto_registration_records_a_pending_charger(start_csms, db):
    server = start_csms(auto_register=True)
    identity = f"NEW-{time.monotonic_ns()}"
    with Wire(server.url, identity, "a-new-charger-password", version="ocpp2.0.1") as wire:
        answer = wire.ok(
            "BootNotification",
            {"chargingStation": {"model": "X", "vendorName": "Y"}, "reason": "PowerUp"},
        )
        assert answer["status"] == "Pending"
        refused = wire.call("Authorize", {"idToken": {"idToken": "ABC", "type": "ISO14443"}})
        assert refused[0] == 4
        assert refused[2] == "SecurityError"
        assert wire.ok("Heartbeat", {})
    charger = db.scalar(select(Charger).where(Charger.identity == identity))
    assert charger.registration == ChargerRegistration.PENDING
    assert charger.depot_id is None


def test_a_full_16_session_posts_its_energy_once(csms, db, make_charger, make_tag):
    charger = make_charger(price_cents=450)
    tag = make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        assert wire.ok("Authorize", {"idTag": tag.tag})["idTagInfo"]["status"] == "Accepted"
        start = {"connectorId": 1, "idTag": tag.tag, "meterStart": 1_000_000, "timestamp": ts()}
        started = wire.ok("StartTransaction", start)
        tx = started["transactionId"]
        assert started["idTagInfo"]["status"] == "Accepted"
        # A resent StartTransaction (after a reconnect) gets the same transaction.
        assert wire.ok("StartTransaction", start)["transactionId"] == tx
        for minute in (5, 10):
            wire.ok(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": tx,
                    "meterValue": [
                        {
                            "timestamp": ts(minute * 60),
                            "sampledValue": [
                                {
                                    "value": str(1_000_000 + minute * 2_000),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                },
                                {"value": "24.5", "measurand": "Power.Active.Import", "unit": "kW"},
                                {"value": "55", "measurand": "SoC", "unit": "Percent"},
                            ],
                        }
                    ],
                },
            )
        stop = {
            "transactionId": tx,
            "meterStop": 1_032_345,
            "timestamp": ts(3600),  # 32 kWh in an hour: within the connector's 60 kW
            "reason": "Local",
            "idTag": tag.tag,
        }
        assert wire.ok("StopTransaction", stop)["idTagInfo"]["status"] == "Accepted"
        wire.ok("StopTransaction", stop | {"meterStop": 1_040_000})  # resent, even altered

    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.status == SessionStatus.COMPLETED
    assert session.transaction_id == str(tx)
    assert session.meter_start_wh == 1_000_000
    assert session.meter_stop_wh == 1_032_345
    assert str(session.kwh) == "32.345"
    assert session.driver_id == tag.driver_id
    assert session.vehicle_id is not None
    assert session.last_power_kw == 24.5
    assert session.last_soc == 55
    assert session.cost_cents == 14555  # 32.345 kWh x $4.50, rounded to the centavo
    entries = list(db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)))
    assert [(e.kind, e.amount_cents, e.idempotency_key) for e in entries] == [
        ("energy", 14555, f"energy:{session.id}")
    ]
    samples = db.scalar(select(MeterValue.id).where(MeterValue.session_id == session.id).limit(1))
    assert samples is not None


def _drop_connections(db) -> int:
    """PostgreSQL ends every other connection to this database (the server's), as a
    restart or an administrator would."""
    dropped = db.scalar(
        text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    db.commit()
    return dropped


def test_a_session_survives_the_servers_database_connections_being_dropped(
    csms, db, make_charger, make_tag
):
    charger = make_charger(price_cents=450)
    tag = make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 1, "idTag": tag.tag, "meterStart": 1_000_000, "timestamp": ts()}
        tx = wire.ok("StartTransaction", start)["transactionId"]
        assert _drop_connections(db) >= 4  # the writers' connections at least
        energy = {"value": "1016000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        wire.ok(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [{"timestamp": ts(1800), "sampledValue": [energy]}],
            },
        )
        assert _drop_connections(db) >= 1  # the new ones
        assert wire.ok("Authorize", {"idTag": tag.tag})["idTagInfo"]["status"] == "Accepted"
        stop = {"transactionId": tx, "meterStop": 1_032_000, "timestamp": ts(3600)}
        stop["idTag"] = tag.tag
        assert wire.ok("StopTransaction", stop)["idTagInfo"]["status"] == "Accepted"

    # What each answer acknowledged is stored, once.
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.status == SessionStatus.COMPLETED
    assert session.kwh == 32
    samples = db.scalars(select(MeterValue.value).where(MeterValue.session_id == session.id))
    assert list(samples) == [1_016_000]
    entries = db.scalars(select(LedgerEntry.amount_cents).where(LedgerEntry.kind == "energy"))
    assert list(entries) == [14400]  # 32 kWh x $4.50


def test_an_unknown_tag_is_invalid_but_the_session_is_recorded(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        assert wire.ok("Authorize", {"idTag": "NOPE"})["idTagInfo"]["status"] == "Invalid"
        started = wire.ok(
            "StartTransaction",
            {"connectorId": 2, "idTag": "NOPE", "meterStart": 5, "timestamp": ts()},
        )
        assert started["idTagInfo"]["status"] == "Invalid"
        wire.ok(
            "StopTransaction",
            {"transactionId": started["transactionId"], "meterStop": 900, "timestamp": ts(60)},
        )
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.energy_wh == 895
    assert session.driver_id is None
    assert session.ledger_entry_id is None


def test_a_full_201_session_with_transaction_events(csms, db, make_charger, make_tag):
    charger = make_charger(price_cents=400)
    tag = make_tag()

    def event(kind, seq, seconds, wh, **extra):
        payload = {
            "eventType": kind,
            "timestamp": ts(seconds),
            "triggerReason": "Authorized" if kind == "Started" else "MeterValuePeriodic",
            "seqNo": seq,
            "transactionInfo": {"transactionId": "TX-201-A"},
            "evse": {"id": 2, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": ts(seconds),
                    "sampledValue": [
                        {
                            "value": wh / 1000,
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "kWh"},
                        }
                    ],
                }
            ],
        }
        payload.update(extra)
        return payload

    with Wire(csms.url, charger.identity, CHARGER_PASSWORD, version="ocpp2.0.1") as wire:
        assert (
            wire.ok(
                "BootNotification",
                {"chargingStation": {"model": "X", "vendorName": "Y"}, "reason": "PowerUp"},
            )["status"]
            == "Accepted"
        )
        wire.ok(
            "StatusNotification",
            {"timestamp": ts(), "connectorStatus": "Occupied", "evseId": 2, "connectorId": 1},
        )
        started = wire.ok(
            "TransactionEvent",
            event("Started", 0, 0, 2_000_000, idToken={"idToken": tag.tag, "type": "ISO14443"}),
        )
        assert started["idTokenInfo"]["status"] == "Accepted"
        wire.ok("TransactionEvent", event("Updated", 1, 300, 2_010_000))
        ended = event("Ended", 2, 1800, 2_020_500, triggerReason="EVCommunicationLost")
        ended["transactionInfo"]["stoppedReason"] = "EVDisconnected"
        wire.ok("TransactionEvent", ended)
        wire.ok("TransactionEvent", ended)  # a duplicate Ended

    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.status == SessionStatus.COMPLETED
    assert session.transaction_id == "TX-201-A"
    assert session.energy_wh == 20_500
    assert session.stop_reason == "EVDisconnected"
    assert session.evse_id == 2
    assert session.connector_id is not None
    assert session.cost_cents == 8200  # 20.5 kWh x $4.00
    entries = list(db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)))
    assert len(entries) == 1
    assert entries[0].amount_cents == 8200


def test_bad_input_gets_a_callerror_and_the_connection_stays(csms, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        assert wire.send_raw("{not json")[:2] == [4, "-1"]
        assert wire.send_raw(json.dumps({"a": 1}))[0] == 4
        answer = wire.send_raw(json.dumps([7, "m1", "Heartbeat", {}]))
        assert answer[:3] == [4, "m1", "ProtocolError"]
        answer = wire.send_raw(json.dumps([2, "m2", "Heartbeat"]))
        assert answer[:3] == [4, "m2", "FormationViolation"]
        assert wire.call("MakeCoffee", {})[2] in {"NotSupported", "NotImplemented"}
        assert wire.call("Authorize", {"idTag": 12})[2] == "TypeConstraintViolation"
        assert wire.call("Authorize", {})[2] in {"ProtocolError", "OccurenceConstraintViolation"}
        wire.call("Heartbeat", {}, uid="same")
        assert wire.call("Heartbeat", {}, uid="same")[:3] == [4, "same", "ProtocolError"]
        assert wire.ok("Heartbeat", {})  # still fine


@pytest.mark.parametrize(
    "payload",
    [
        {"chargePointVendor": "ABB", "chargeBoxSerialNumber": "X", "firmwareVersion": "1"},
        {
            "connectorId": 1,
            "meterValue": [{"timestamp": "t", "sampledValue": [{"value": "1", "unit": "Wh"}]}],
        },
        {"chargingStation": {"vendorName": "Y"}, "ocppCSMSURL": "u", "V2XChargingCtrlr": 1},
        {"evseId": 1, "SoC": 50, "idTokenInfo": {"status": "Accepted"}, "ISO15118": [[]]},
    ],
)
def test_payload_keys_are_turned_into_snake_case_as_the_library_does(payload):
    assert snake_case(payload) == camel_to_snake_case(payload)
    assert snake_case(payload) == camel_to_snake_case(payload)  # and from the cache


def test_lenient_where_chargers_are_sloppy(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        # A wrong error code and an unknown status: recorded as far as usable.
        wire.ok(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "Overheated!!", "status": "Melting"},
        )
        # An unknown measurand and a value that is not a number, beside a good one.
        wire.ok(
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": ts(),
                        "sampledValue": [
                            {"value": "12.5", "measurand": "Temperature.Of.The.Moon"},
                            {"value": "lots", "measurand": "Energy.Active.Import.Register"},
                            {"value": "1234"},
                        ],
                    }
                ],
            },
        )
        assert wire.ok("Heartbeat", {})
    connector = db.scalar(
        select(ChargerConnector).where(
            ChargerConnector.charger_id == charger.id, ChargerConnector.evse_id == 1
        )
    )
    assert connector.status == ConnectorStatus.UNKNOWN
    assert connector.error_code == "Overheated!!"
    values = {
        m: v
        for m, v in db.execute(
            select(MeterValue.measurand, MeterValue.value).where(
                MeterValue.charger_id == charger.id
            )
        )
    }
    assert values == {"Temperature.Of.The.Moon": 12.5, "Energy.Active.Import.Register": 1234.0}


def test_a_10_mb_frame_closes_only_that_connection(csms, make_charger):
    sender, bystander = make_charger(), make_charger()
    with Wire(csms.url, bystander.identity, CHARGER_PASSWORD) as other:
        boot16(other)
        wire = Wire(csms.url, sender.identity, CHARGER_PASSWORD)
        boot16(wire)
        with pytest.raises(ConnectionClosed) as closed:
            wire.send_raw(
                json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "x" * 10_000_000}])
            )
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert other.ok("Heartbeat", {})
    with Wire(csms.url, sender.identity, CHARGER_PASSWORD) as again:
        assert boot16(again)["status"] == "Accepted"


def test_a_silent_charger_is_offline_after_missed_heartbeats(start_csms, db, make_charger):
    server = start_csms(heartbeat_interval=1)
    charger = make_charger()
    wire = Wire(server.url, charger.identity, CHARGER_PASSWORD)
    assert boot16(wire)["interval"] == 1

    def online():
        db.expire_all()
        return db.get(Charger, charger.id).is_online()

    assert wait_until(online, what="the boot")
    # Silent from now on. The server hangs up for the missed heartbeats of the 1-second
    # interval it gave at boot (the default interval would keep it for 15 minutes) ...
    with pytest.raises(ConnectionClosed) as closed:
        wire.ws.recv(timeout=60)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "missed heartbeats")

    # ... and records it offline, as the staff board shows it.
    def marked_offline():
        db.expire_all()
        row = db.get(Charger, charger.id)
        return row if not row.online else None

    row = wait_until(marked_offline, what="the charger marked offline")
    assert row.disconnected_at is not None
    assert not row.is_online()
