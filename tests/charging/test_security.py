"""The CSMS against someone who is not a charger: TLS in production, refusals that
take the same time, a cap on handshakes, answers nobody asked for, energy a charger
could not have delivered; and the chargers' credentials (keyed hashes, old Argon2)."""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from websockets.exceptions import InvalidMessage, InvalidStatus

from portal.models import Charger, ChargingSession, LedgerEntry, SessionReview, SessionStatus
from portal.services.charging.registry import rotate_charger_password
from portal.services.charging.settle import review_session
from tests.waiting import wait_until

from .conftest import CHARGER_KEY, CHARGER_PASSWORD
from .test_csms import boot16, ts
from .wire import Wire

# --- TLS (security profile 2) and plain connections in production ---------------------


def _certificates(folder) -> tuple[str, str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1: (ca, cert, key) files."""

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("LAFA test CA"))
        .issuer_name(name("LAFA test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("csms.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tuple(str(f) for f in files)  # type: ignore[return-value]


def test_profile_2_tls_end_to_end(start_csms, db, make_charger, tmp_path):
    ca, cert, key = _certificates(tmp_path)
    server = start_csms(production=True, tls_cert=cert, tls_key=key)
    charger = make_charger()
    trust = ssl.create_default_context(cafile=ca)
    url = server.url.replace("ws://", "wss://")
    with Wire(url, charger.identity, CHARGER_PASSWORD, ssl=trust) as wire:
        assert boot16(wire)["status"] == "Accepted"
        assert wire.ok("Heartbeat", {})
    with pytest.raises(InvalidStatus) as refused:  # TLS does not replace the password
        Wire(url, charger.identity, "a-wrong-password-of-24-ch", ssl=trust)
    assert refused.value.response.status_code == 401
    with pytest.raises(ssl.SSLCertVerificationError):  # nor does a charger trust anyone
        Wire(url, charger.identity, CHARGER_PASSWORD, ssl=ssl.create_default_context())


def test_production_refuses_a_password_without_tls_unless_allowed(
    start_csms, db, make_charger, caplog
):
    server = start_csms(production=True)
    charger = make_charger()
    with pytest.raises(InvalidStatus) as refused:
        Wire(server.url, charger.identity, CHARGER_PASSWORD)
    assert refused.value.response.status_code == 403
    assert "security profile 1 without TLS" in caplog.text
    allowed = make_charger(plain_allowed=True)
    with Wire(server.url, allowed.identity, CHARGER_PASSWORD) as wire:
        assert boot16(wire)["status"] == "Accepted"


# --- handshakes -----------------------------------------------------------------------


def _refusal_time(url: str, identity: str, password: str) -> float:
    started = time.monotonic()
    with pytest.raises(InvalidStatus) as refused:
        Wire(url, identity, password)
    assert refused.value.response.status_code == 401
    return time.monotonic() - started


def test_unknown_identities_are_refused_no_faster_than_wrong_passwords(start_csms, make_charger):
    server = start_csms(refusal_delay=1.0)
    charger = make_charger()
    # Each refusal is answered a fixed time after the handshake began, whatever the
    # reason: the answer's timing does not tell which identities exist.
    assert _refusal_time(server.url, "NOBODY-HAS-THIS-NAME", CHARGER_PASSWORD) >= 1.0
    assert _refusal_time(server.url, charger.identity, "not-the-password-12345") >= 1.0


def test_unauthenticated_handshakes_are_capped(start_csms, make_charger):
    server = start_csms(max_handshakes=1, refusal_delay=3.0)
    charger = make_charger()
    slow = threading.Thread(
        target=_refusal_time, args=(server.url, charger.identity, "wrong-password-0000000")
    )
    slow.start()  # a guess, held for its refusal delay
    assert wait_until(lambda: server.csms.handshakes == 1)
    with pytest.raises(InvalidStatus) as busy:
        Wire(server.url, charger.identity, CHARGER_PASSWORD)
    assert busy.value.response.status_code == 503
    assert busy.value.response.headers["Retry-After"]
    slow.join(10)
    with Wire(server.url, charger.identity, CHARGER_PASSWORD) as wire:  # free again
        assert boot16(wire)["status"] == "Accepted"


def test_a_dropped_handshake_is_logged_with_its_reason(start_csms, make_charger, caplog):
    server = start_csms(handshake_timeout=0.5, refusal_delay=5.0)
    charger = make_charger()
    with caplog.at_level(logging.WARNING, logger="charging.csms"), pytest.raises(InvalidMessage):
        Wire(server.url, charger.identity, "wrong-password-0000000")
    assert wait_until(lambda: "dropped the handshake of" in caplog.text)
    assert charger.identity in caplog.text
    assert "while answering" in caplog.text


# --- answers nobody asked for ---------------------------------------------------------


def test_unsolicited_answers_are_dropped_not_queued(csms, make_charger):
    charger = make_charger()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        for n in range(200):
            wire.ws.send(json.dumps([3, f"nobody-asked-{n}", {"status": "Accepted"}]))
        assert wire.ok("Heartbeat", {})  # the connection is fine
        connection = csms.csms.connections[charger.identity]
        assert connection._response_queue.qsize() == 0


# --- energy a charger could not have delivered ----------------------------------------


def test_an_implausible_session_is_held_for_review_not_billed(
    csms, db, make_charger, make_tag, make_user
):
    charger, tag = make_charger(), make_tag()  # 60 kW connectors
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 1, "idTag": tag.tag, "meterStart": 0, "timestamp": ts()}
        tx = wire.ok("StartTransaction", start)["transactionId"]
        # 100 kWh in 10 minutes would take 600 kW.
        stop = {"transactionId": tx, "meterStop": 100_000, "timestamp": ts(600)}
        wire.ok("StopTransaction", stop)
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.status == SessionStatus.COMPLETED
    assert session.energy_wh == 100_000
    assert session.review == SessionReview.IMPLAUSIBLE
    assert session.ledger_entry_id is None
    assert db.scalar(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)) is None

    manager = make_user()
    review_session(db, session.id, bill=True, actor_id=manager.id)  # staff decide
    db.commit()
    [entry] = db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id))
    assert entry.amount_cents == 50_000  # 100 kWh x $5.00
    assert session.reviewed_by_id == manager.id


def test_a_plausible_session_is_billed_at_once(csms, db, make_charger, make_tag):
    charger, tag = make_charger(), make_tag()
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 1, "idTag": tag.tag, "meterStart": 0, "timestamp": ts()}
        tx = wire.ok("StartTransaction", start)["transactionId"]
        stop = {"transactionId": tx, "meterStop": 9_000, "timestamp": ts(600)}  # 54 kW
        wire.ok("StopTransaction", stop)
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.review is None
    assert session.cost_cents == 4_500


# --- credentials ----------------------------------------------------------------------


def test_an_old_argon2_charger_keeps_working_until_its_password_is_rotated(csms, db, make_charger):
    charger = make_charger(argon2=True)
    assert charger.password_hash.startswith("$argon2")
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        assert boot16(wire)["status"] == "Accepted"
    new = rotate_charger_password(db, charger.id, secret_key=CHARGER_KEY, actor_id=None)
    db.commit()
    assert len(new) >= 24
    assert db.get(Charger, charger.id).password_hash.startswith("hmac-sha256$")
    with pytest.raises(InvalidStatus):
        Wire(csms.url, charger.identity, CHARGER_PASSWORD)
    with Wire(csms.url, charger.identity, new) as wire:
        assert boot16(wire)["status"] == "Accepted"
