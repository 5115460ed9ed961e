"""What a real fleet does to the CSMS: samples sent twice, sessions whose stop never
comes, chargers approved while connected, id tags as cards send them, notifications
that must be kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.models import (
    Charger,
    ChargerEvent,
    ChargerEventKind,
    ChargerRegistration,
    ChargingSession,
    IdTag,
    LedgerEntry,
    MeterValue,
    SessionReview,
    SessionStatus,
)
from portal.services.charging.board import depot_board
from portal.services.charging.driver import active_session
from tests.waiting import wait_until

from .conftest import CHARGER_PASSWORD
from .test_csms import boot16, ts
from .wire import Wire


def energy(wh: int, seconds: int, **extra: object) -> dict:
    return {
        "timestamp": ts(seconds),
        "sampledValue": [
            {
                "value": str(wh),
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
                "context": "Sample.Periodic",
                **extra,
            }
        ],
    }


def boot201(wire: Wire, reason: str = "PowerUp") -> dict:
    return wire.ok(
        "BootNotification",
        {"chargingStation": {"model": "X", "vendorName": "Y"}, "reason": reason},
    )


def samples_of(db, charging_session_id: int) -> list[tuple]:
    db.expire_all()
    return list(
        db.execute(
            select(MeterValue.evse_id, MeterValue.sampled_at, MeterValue.value)
            .where(MeterValue.session_id == charging_session_id)
            .order_by(MeterValue.sampled_at)
        )
    )


def session_of(db, charger: Charger, transaction_id: str | None = None) -> ChargingSession:
    db.expire_all()
    query = select(ChargingSession).where(ChargingSession.charger_id == charger.id)
    if transaction_id is not None:
        query = query.where(ChargingSession.transaction_id == transaction_id)
    return db.scalar(query.order_by(ChargingSession.id))


# --- each sample once ---------------------------------------------------------------


def test_a_16_stop_resending_its_samples_stores_each_once(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 2, "idTag": tag.tag, "meterStart": 1000, "timestamp": ts()}
        tx = wire.ok("StartTransaction", start)["transactionId"]
        values = [energy(1000 + 500 * n, 600 * n) for n in (1, 2)]
        wire.ok("MeterValues", {"connectorId": 2, "transactionId": tx, "meterValue": values})
        # The stop carries the same samples again (transactionData), with no connector.
        stop = {
            "transactionId": tx,
            "meterStop": 2000,
            "timestamp": ts(1200),
            "transactionData": values,
        }
        wire.ok("StopTransaction", stop)
    session = session_of(db, charger)
    assert session.status == SessionStatus.COMPLETED
    assert [(evse, value) for evse, _, value in samples_of(db, session.id)] == [
        (2, 1500.0),
        (2, 2000.0),
    ]


def test_201_events_without_evse_take_the_transactions_evse(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()

    def event(kind: str, seq: int, wh: int, evse: bool) -> dict:
        payload = {
            "eventType": kind,
            "timestamp": ts(600 * seq),
            "triggerReason": "MeterValuePeriodic",
            "seqNo": seq,
            "transactionInfo": {"transactionId": "TX-EVSE"},
            "meterValue": [energy(wh, 600 * seq)],
        }
        if evse:
            payload["evse"] = {"id": 2, "connectorId": 1}
        return payload

    with Wire(csms.url, charger.identity, CHARGER_PASSWORD, version="ocpp2.0.1") as wire:
        boot201(wire)
        started = event("Started", 0, 5000, evse=True)
        started["idToken"] = {"idToken": tag.tag, "type": "ISO14443"}
        wire.ok("TransactionEvent", started)
        wire.ok("TransactionEvent", event("Updated", 1, 6000, evse=False))
        wire.ok("TransactionEvent", event("Updated", 1, 6000, evse=False))  # resent
        ended = event("Ended", 2, 7000, evse=False)
        ended["meterValue"].insert(0, energy(6000, 600))  # the last sample, again
        wire.ok("TransactionEvent", ended)
    session = session_of(db, charger, "TX-EVSE")
    assert session.energy_wh == 2000
    assert [(evse, value) for evse, _, value in samples_of(db, session.id)] == [
        (2, 5000.0),
        (2, 6000.0),
        (2, 7000.0),
    ]


# --- id tags as cards send them -------------------------------------------------------


def test_any_ocpp_tag_is_accepted_as_sent_and_matched_without_case(
    csms, db, make_charger, make_tag
):
    charger = make_charger()
    tag = make_tag()
    tag_row = db.get(IdTag, tag.id)
    tag_row.tag = "04:a2-3B/9c.11"  # an RFID UID as a reader prints it
    db.commit()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        authorized = wire.ok("Authorize", {"idTag": "04:A2-3b/9C.11"})
        assert authorized["idTagInfo"]["status"] == "Accepted"
        start = {"connectorId": 1, "idTag": "04:A2-3b/9C.11", "meterStart": 0, "timestamp": ts()}
        assert wire.ok("StartTransaction", start)["idTagInfo"]["status"] == "Accepted"
    session = session_of(db, charger)
    assert session.driver_id == tag.driver_id
    assert session.id_tag == "04:A2-3b/9C.11"  # kept as this charger sent it


# --- lost sessions --------------------------------------------------------------------


def _start_with_one_reading(wire: Wire, tag: str, connector: int = 1) -> int:
    start = {"connectorId": connector, "idTag": tag, "meterStart": 10_000, "timestamp": ts()}
    tx = wire.ok("StartTransaction", start)["transactionId"]
    reading = {"connectorId": connector, "transactionId": tx, "meterValue": [energy(14_000, 600)]}
    wire.ok("MeterValues", reading)
    return tx


def _assert_lost_and_billed_once(db, charger: Charger, tag, reason: str) -> ChargingSession:
    session = session_of(db, charger)
    assert session.status == SessionStatus.LOST
    assert session.review == SessionReview.LOST
    assert session.stop_reason == reason
    assert session.meter_stop_wh == 14_000  # its last meter value
    assert session.energy_wh == 4_000
    assert session.stopped_at == session.last_meter_at
    entries = list(db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)))
    assert [e.amount_cents for e in entries] == [2000]  # 4 kWh x $5.00, once
    # No screen shows it as charging.
    assert active_session(db, tag.driver_id) is None
    board = depot_board(db, charger.depot_id, session.stopped_at)
    assert all(row.session is None for view in board for row in view.connectors)
    return session


def test_a_reboot_closes_its_running_sessions_as_lost(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        tx = _start_with_one_reading(wire, tag.tag)
        assert session_of(db, charger).status == SessionStatus.ACTIVE
        boot16(wire)  # it rebooted: its transaction is gone
        _assert_lost_and_billed_once(db, charger, tag, "Lost: charger rebooted")
        # Its stop arrives late, with another reading: the bill does not change.
        late = {"transactionId": tx, "meterStop": 19_000, "timestamp": ts(900)}
        wire.ok("StopTransaction", late)
    _assert_lost_and_billed_once(db, charger, tag, "Lost: charger rebooted")


def test_a_boot_we_asked_for_is_not_a_reboot(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD, version="ocpp2.0.1") as wire:
        boot201(wire)
        started = {
            "eventType": "Started",
            "timestamp": ts(),
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-TRIG"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": tag.tag, "type": "ISO14443"},
        }
        wire.ok("TransactionEvent", started)
        boot201(wire, reason="Triggered")  # answering our TriggerMessage
        assert session_of(db, charger).status == SessionStatus.ACTIVE
        boot201(wire, reason="PowerUp")
        assert session_of(db, charger).status == SessionStatus.LOST


def test_a_new_transaction_on_the_connector_closes_the_old_one(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        _start_with_one_reading(wire, tag.tag)
        newer = {"connectorId": 1, "idTag": tag.tag, "meterStart": 14_500, "timestamp": ts(1800)}
        wire.ok("StartTransaction", newer)
    db.expire_all()
    first, second = db.scalars(
        select(ChargingSession)
        .where(ChargingSession.charger_id == charger.id)
        .order_by(ChargingSession.id)
    ).all()
    assert second.status == SessionStatus.ACTIVE
    assert first.status == SessionStatus.LOST
    assert first.stop_reason == "Lost: new transaction"
    assert first.energy_wh == 4_000


def test_a_silent_session_is_closed_as_lost(start_csms, db, make_charger, make_tag):
    server = start_csms(meter_interval=1)  # lost after 3 silent seconds
    charger, tag = make_charger(), make_tag()
    with Wire(server.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        _start_with_one_reading(wire, tag.tag)
        # The charger keeps its heartbeat, but nothing more comes about the session.
        assert wait_until(
            lambda: wire.ok("Heartbeat", {}) and session_of(db, charger).status != "active",
            timeout=30,
        )
    _assert_lost_and_billed_once(db, charger, tag, "Lost: silent")


# --- approval on the same connection --------------------------------------------------


def test_an_approved_charger_is_accepted_at_its_next_boot(app, start_csms, db, make_depot):
    server = start_csms(auto_register=True)
    depot = make_depot(code="APR")
    db.commit()
    identity = "SELF-REGISTERED-1"
    with Wire(server.url, identity, "its-own-password-123") as wire:
        assert boot16(wire)["status"] == "Pending"
        assert wire.call("Authorize", {"idTag": "X"})[2] == "SecurityError"
        runner = app.test_cli_runner()
        done = runner.invoke(args=["chargers", "approve", identity, "--depot", "apr"])
        assert done.exit_code == 0, done.output
        assert boot16(wire)["status"] == "Accepted"  # same connection, no reconnect
        assert wire.ok("Authorize", {"idTag": "X"})["idTagInfo"]["status"] == "Invalid"
    charger = db.scalar(select(Charger).where(Charger.identity == identity))
    assert charger.registration == ChargerRegistration.ACCEPTED
    assert charger.depot_id == depot.id


# --- notifications kept ---------------------------------------------------------------


def test_16_notifications_and_vendor_data_are_kept(start_csms, db, make_charger):
    server = start_csms(data_transfer_vendors=frozenset({"com.lafa"}))
    charger = make_charger()
    with Wire(server.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        event = {"type": "InvalidFirmwareSignature", "timestamp": ts(), "techInfo": "sig v2"}
        wire.ok("SecurityEventNotification", event)
        wire.ok("SecurityEventNotification", event)  # resent: kept once
        wire.ok("FirmwareStatusNotification", {"status": "InstallationFailed"})
        wire.ok("DiagnosticsStatusNotification", {"status": "Uploaded"})
        data = {"vendorId": "com.lafa", "messageId": "cable", "data": json.dumps({"t": 41})}
        assert wire.ok("DataTransfer", data)["status"] == "Accepted"
        unknown = wire.ok("DataTransfer", {"vendorId": "com.other"})
        assert unknown["status"] == "UnknownVendorId"
    kept = _events(db, charger)
    assert kept == [
        (ChargerEventKind.SECURITY, "InvalidFirmwareSignature"),
        (ChargerEventKind.FIRMWARE, "InstallationFailed"),
        (ChargerEventKind.DIAGNOSTICS, "Uploaded"),
        (ChargerEventKind.DATA_TRANSFER, "com.lafa/cable"),
    ]
    security = db.scalar(select(ChargerEvent).where(ChargerEvent.kind == "security"))
    assert security.payload["tech_info"] == "sig v2"
    assert security.occurred_at is not None


def test_201_notifications_are_kept(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD, version="ocpp2.0.1") as wire:
        boot201(wire)
        event = {"type": "SettingSystemTime", "timestamp": ts()}
        wire.ok("SecurityEventNotification", event)
        report = {
            "requestId": 7,
            "generatedAt": ts(),
            "seqNo": 0,
            "tbc": False,
            "reportData": [
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power"},
                    "variableAttribute": [{"value": "60000"}],
                }
            ],
        }
        wire.ok("NotifyReport", report)
        wire.ok("NotifyReport", report)  # resent
        wire.ok("FirmwareStatusNotification", {"status": "Downloaded", "requestId": 3})
        wire.ok("LogStatusNotification", {"status": "Uploading", "requestId": 4})
    assert _events(db, charger) == [
        (ChargerEventKind.SECURITY, "SettingSystemTime"),
        (ChargerEventKind.REPORT, "7/0"),
        (ChargerEventKind.FIRMWARE, "Downloaded"),
        (ChargerEventKind.DIAGNOSTICS, "Uploading"),
    ]
    kept = db.scalar(select(ChargerEvent).where(ChargerEvent.kind == "report"))
    assert kept.payload["report_data"][0]["variable"]["name"] == "Power"


def _events(db, charger: Charger) -> list[tuple]:
    db.expire_all()
    return [
        (kind, name)
        for kind, name in db.execute(
            select(ChargerEvent.kind, ChargerEvent.name)
            .where(ChargerEvent.charger_id == charger.id)
            .order_by(ChargerEvent.id)
        )
    ]


def test_meter_value_count_is_unchanged_by_a_resent_meter_values(csms, db, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        reading = {"connectorId": 1, "meterValue": [energy(500, 0)]}
        wire.ok("MeterValues", reading)
        wire.ok("MeterValues", reading)
    count = db.scalar(select(func.count(MeterValue.id)).where(MeterValue.charger_id == charger.id))
    assert count == 1


# --- a batch whose one answer fails ----------------------------------------------------


def test_a_batch_of_starts_and_stops_is_written_together(engine, db, make_charger, make_tag):
    from sqlalchemy.orm import Session as OrmSession

    from charging import store

    chargers, tag = [make_charger() for _ in range(3)], make_tag()
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    starts = [store.Start16(c.id, 1, tag.tag.lower(), 1000, at) for c in chargers]
    with OrmSession(engine) as session:
        started = store.apply_batch(session, store.Batch(starts=starts)).starts
        session.commit()
    assert len({tx for tx, _ in started}) == 3
    assert {status for _, status in started} == {"Accepted"}
    later = at + timedelta(hours=1)
    stops = [
        store.Stop(c.id, str(tx), 21_000, later, None)
        for c, (tx, _) in zip(chargers, started, strict=True)
    ]
    with OrmSession(engine) as session:
        store.apply_batch(session, store.Batch(stops=stops, starts=starts))  # a start resent
        session.commit()
    db.expire_all()
    sessions = db.scalars(select(ChargingSession).order_by(ChargingSession.id)).all()
    assert [(s.status, s.energy_wh, s.cost_cents) for s in sessions] == [
        ("completed", 20_000, 10_000)
    ] * 3
    entries = db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)).all()
    assert sorted(e.source_id for e in entries) == sorted(str(s.id) for s in sessions)


def test_a_failing_answer_fails_alone_when_the_batch_is_applied_again(engine, db, make_charger):
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session as OrmSession

    from charging import store

    charger = make_charger()
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    batch = store.Batch(
        starts=[
            store.Start16(charger.id, 1, "ANY", 100, at),
            store.Start16(999_999, 1, "ANY", 100, at),  # no such charger
        ]
    )
    with OrmSession(engine) as session, pytest.raises(IntegrityError):
        store.apply_batch(session, batch)  # set-based: all or nothing
    with OrmSession(engine) as session:
        result = store.apply_batch(session, batch, savepoints=True)
        session.commit()
    good, bad = result.starts
    assert isinstance(bad, IntegrityError)
    assert good[1] == "Invalid"
    assert session_of(db, charger).id == good[0]
