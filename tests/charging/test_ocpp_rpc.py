"""An independent OCPP implementation (npm `ocpp-rpc`, strict mode) drives our CSMS,
so that we do not only test ourselves against ourselves."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.models import ChargerEvent, ChargingSession, LedgerEntry, SessionStatus

from .conftest import CHARGER_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ocpp_rpc_client.js")

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def drive(csms, identity: str, protocol: str, tag: str) -> dict:
    if not (ROOT / "node_modules" / "ocpp-rpc").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ROOT, check=True)
    done = subprocess.run(
        ["node", str(SCRIPT), csms.url, identity, CHARGER_PASSWORD, protocol, tag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_a_strict_independent_client_runs_a_session(
    protocol, start_csms, db, make_charger, make_tag
):
    csms = start_csms(data_transfer_vendors=frozenset({"npm.test"}))
    charger = make_charger(price_cents=500)
    tag = make_tag()
    out = drive(csms, charger.identity, protocol, tag.tag)
    assert out["protocol"] == protocol
    assert "strictFailures" not in out
    assert out["boot"]["status"] == "Accepted"
    if protocol == "ocpp1.6":
        assert out["authorize"]["idTagInfo"]["status"] == "Accepted"
        assert out["dataTransfer"]["status"] == "Accepted"  # a registered vendor id
    else:
        assert out["authorize"]["idTokenInfo"]["status"] == "Accepted"
    kept = {e.kind for e in db.scalars(select(ChargerEvent))}
    assert kept == {"data_transfer" if protocol == "ocpp1.6" else "security"}
    session = db.scalar(select(ChargingSession).where(ChargingSession.charger_id == charger.id))
    assert session.status == SessionStatus.COMPLETED
    assert session.energy_wh == 10_000
    entries = list(db.scalars(select(LedgerEntry).where(LedgerEntry.driver_id == tag.driver_id)))
    assert [e.amount_cents for e in entries] == [5000]  # 10 kWh x $5.00, once
