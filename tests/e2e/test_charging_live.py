"""The whole charging path with real processes: the portal (gunicorn) with Redis, an RQ
worker on the `ocpp` queue, the CSMS, and the demo chargers simulated over OCPP.

A driver starts a session from the phone, watches the kWh rise, staff stop it from the
tablet, and the energy charge lands on the driver's account.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from playwright.sync_api import expect
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.cli import upgrade_database
from portal.config import ROOT
from portal.db import make_engine, utcnow
from portal.demo.seed import seed_demo
from portal.models import (
    Charger,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    EntryKind,
    LedgerEntry,
    User,
    Vehicle,
)
from tests.servers import TEST_REDIS
from tests.waiting import wait_port, wait_until

from .conftest import ARTIFACTS, PG_ADMIN, sized

pytestmark = pytest.mark.e2e

LONG = 40_000  # ms: a command goes through the queue, the bus and the charger


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_stack() -> Iterator[dict]:
    name = f"lafa_e2e_live_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade_database(url)
    engine = make_engine(url)
    with OrmSession(engine) as session:
        seed_demo(session, vehicles=12)
        session.commit()
    Redis.from_url(TEST_REDIS).flushdb()

    web_port, ocpp_port = _free_port(), _free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "REDIS_URL": TEST_REDIS,
        "SECRET_KEY": "e2e-live-secret",
        "LAFA_DEMO": "1",
        "OCPP_HOST": "127.0.0.1",
        "OCPP_PORT": str(ocpp_port),
        "OCPP_HEARTBEAT_INTERVAL": "10",
        "OCPP_COMMAND_TIMEOUT": "15",
        "FLASK_APP": "wsgi:app",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    python = sys.executable
    commands = {
        "csms": [python, "-m", "charging.csms"],
        "worker": [python, "-m", "flask", "worker", "ocpp"],
        "web": [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{web_port}",
            "-w",
            "2",
            "--threads",
            "4",
            "wsgi:app",
        ],
    }
    processes, logs = [], []
    try:
        for label, command in commands.items():
            log = open(ARTIFACTS / f"live-{label}.log", "w")  # noqa: SIM115 - closed below
            logs.append(log)
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            if label == "csms":
                wait_port(ocpp_port)
        wait_port(web_port)
        log = open(ARTIFACTS / "live-simulator.log", "w")  # noqa: SIM115 - closed below
        logs.append(log)
        processes.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "charging.simulate",
                    "--url",
                    f"ws://127.0.0.1:{ocpp_port}/ocpp",
                    "--no-world",  # no planned sessions: only the test's driver charges
                    "--session-chance",
                    "0",
                    "--meter-interval",
                    "1",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        # The driver whose phone the test uses, and their depot, whose chargers must be up.
        with OrmSession(engine) as session:
            driver_user = session.scalar(
                select(User)
                .join(Driver, Driver.user_id == User.id)
                .join(Contract, Contract.driver_id == Driver.id)
                .where(Contract.status == ContractStatus.ACTIVE)
                .order_by(User.id)
            )
            depot = session.scalar(
                select(Depot)
                .join(Vehicle, Vehicle.depot_id == Depot.id)
                .join(Contract, Contract.vehicle_id == Vehicle.id)
                .where(Contract.driver_id == driver_user.driver.id)
            )
            info = {
                "base": f"http://127.0.0.1:{web_port}",
                "engine": engine,
                "phone": driver_user.phone,
                "driver_id": driver_user.driver.id,
                "driver_name": driver_user.driver.full_name,
                "depot_id": depot.id,
            }

        def all_online() -> bool:
            with OrmSession(engine) as session:
                chargers = session.scalars(
                    select(Charger).where(Charger.depot_id == info["depot_id"])
                ).all()
                return bool(chargers) and all(c.is_online(utcnow()) for c in chargers)

        wait_until(all_online, what="the simulated chargers to come online")
        yield info
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()  # reaped, or Popen.__del__ warns (an error under -W error)
        for log in logs:
            log.close()
        engine.dispose()
        Redis.from_url(TEST_REDIS).flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def test_driver_starts_from_the_phone_and_staff_stop_from_the_tablet(browser, live_stack):
    base = live_stack["base"]
    phone = sized(browser, base, "phone")
    phone.page.set_default_timeout(LONG)
    phone.login(live_stack["phone"])
    page = phone.page
    page.goto(base + "/conductor/cargar")
    live = page.locator("#live")
    live.get_by_role("button", name="Iniciar carga").click()
    expect(live).to_contain_text("El cargador aceptó", timeout=LONG)
    expect(live.get_by_text("Cargando ahora")).to_be_visible(timeout=LONG)

    # The kWh rise as the charger sends its meter values (the card polls every 5 s).
    energy = live.locator(".live-figures dd").first
    expect(energy).not_to_have_text(re.compile(r"^0\.00\b"), timeout=LONG)
    first_reading = energy.inner_text()
    expect(energy).not_to_have_text(first_reading, timeout=LONG)
    expect(live.locator(".live-figures")).to_contain_text("kW")
    phone.shot("charging-live")
    assert phone.axe() == []

    tablet = sized(browser, base, "tablet")
    tablet.page.set_default_timeout(LONG)
    tablet.login("rocio.salinas@lafa.mx")
    board = tablet.page
    board.goto(f"{base}/operacion/cargadores?depot={live_stack['depot_id']}")
    row = board.locator("li.connector", has_text=live_stack["driver_name"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text("kWh")
    tablet.shot("charging-board-live")
    assert tablet.axe() == []
    row.get_by_role("link", name="Detener").click()
    panel = board.locator("#command-panel")
    expect(panel.get_by_role("button", name="Sí, enviarla")).to_be_visible()
    tablet.shot("charging-stop-confirm")
    panel.get_by_role("button", name="Sí, enviarla").click()
    expect(panel).to_contain_text("El cargador aceptó la orden.", timeout=LONG)
    tablet.shot("charging-stopped")

    # The phone sees the session end, and the energy is on the driver's account.
    expect(live.get_by_role("heading", name="No estás cargando")).to_be_visible(timeout=LONG)
    page.reload()
    history = page.get_by_role("heading", name="Tus cargas").locator("..")
    expect(history).to_contain_text("kWh")
    expect(history).to_contain_text("$")
    phone.shot("charging-history")
    with OrmSession(live_stack["engine"]) as session:
        entry = session.scalar(
            select(LedgerEntry).where(
                LedgerEntry.driver_id == live_stack["driver_id"],
                LedgerEntry.kind == EntryKind.ENERGY,
                LedgerEntry.posted_at > utcnow() - timedelta(minutes=10),
            )
        )
    assert entry is not None
    assert entry.amount_cents > 0
    assert phone.errors == []
    assert tablet.errors == []
