"""Browser tests: the real app in gunicorn, on a demo database of its own, driven by
Playwright in Debian's Chromium at a phone's, a tablet's and a desktop's size."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from portal.cli import upgrade_database
from portal.config import ROOT
from portal.db import make_engine
from portal.demo.seed import seed_demo
from portal.models import Contract, ContractStatus, Driver, User

ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
E2E_WEBHOOK_SECRET = "whsec_e2e_only"
SIZES = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1440, 900)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def demo_database() -> Iterator[str]:
    name = f"lafa_e2e_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade_database(url)
    engine = make_engine(url)
    with OrmSession(engine) as session:
        seed_demo(session, vehicles=40)
        session.commit()
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live_server(demo_database: str) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": demo_database,
        "REDIS_URL": "",
        "SECRET_KEY": "e2e-secret",
        "LAFA_DEMO": "1",
        "PAYMENTS_PROVIDER": "demo",
        "STRIPE_WEBHOOK_SECRET": E2E_WEBHOOK_SECRET,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # Ready when a worker answers a page, not when the master accepts connections: on a
    # busy machine the workers take longer than a page load's timeout to import the app.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/entrar", timeout=5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        raise RuntimeError("the portal did not start; see tests/e2e/server.log")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:  # gunicorn's graceful stop can outlast a busy machine
        server.kill()
        server.wait()
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_logins(demo_database: str) -> dict[str, str]:
    engine = make_engine(demo_database)
    with OrmSession(engine) as session:
        driver_phone = session.scalar(
            select(User.phone)
            .join(Driver, Driver.user_id == User.id)
            .join(Contract, Contract.driver_id == Driver.id)
            .where(Contract.status == ContractStatus.ACTIVE)
            .order_by(User.id)
        )
    engine.dispose()
    return {
        "driver": driver_phone or "",
        "staff": "rocio.salinas@lafa.mx",
        "manager": "diego.barrios@lafa.mx",
        "admin": "admin@lafa.mx",
    }


class Screen:
    """A page at one of the three sizes that records console errors (CSP included)."""

    def __init__(self, page: Page, size: str, base_url: str) -> None:
        self.page, self.size, self.base_url = page, size, base_url
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def login(self, identifier: str, password: str = "lafa-demo-2026") -> None:
        self.goto("/entrar")
        self.page.get_by_label("Celular o correo electrónico").fill(identifier)
        self.page.get_by_label("Contraseña").fill(password)
        self.page.get_by_role("button", name="Entrar").click()
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}-{self.size}.png"
        # caret="initial": hiding the caret leaves `style=""` on every input, which htmx
        # then copies while settling a swap, and the CSP reports that as an error.
        self.page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    def axe(self) -> list[dict]:
        """Serious and critical accessibility violations on the current page."""
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result
            if v["impact"] in {"serious", "critical"}
        ]


@pytest.fixture(params=list(SIZES))
def screen(request, browser: Browser, live_server: str) -> Iterator[Screen]:
    width, height = SIZES[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale="es-MX",
        timezone_id="America/Mexico_City",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Screen(page, request.param, live_server)
    context.close()


def sized(browser: Browser, live_server: str, size: str) -> Screen:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="es-MX")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return Screen(page, size, live_server)
