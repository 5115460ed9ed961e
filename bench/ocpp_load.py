"""OCPP load: N simulated chargers at once against the CSMS, and against a bare `ocpp`
library server that answers the same traffic without persistence (the baseline), in
the same run.

Each charger connects (HTTP Basic), boots, reports its two connectors, then every
`--period` seconds sends a Heartbeat and a MeterValues; `--sessions` of them (10%) run
a transaction: StartTransaction, MeterValues with the transaction id, StopTransaction
at the end. Reported per server: calls answered / sent, answer time p50 / p99 / max,
RSS per connection, and the ratios CSMS / bare library.

    python bench/ocpp_load.py [--chargers 2000] [--duration 60] [--period 10]

Needs PostgreSQL and Redis on localhost (a scratch database `lafa_bench_ocpp` and
Redis db 13 are created and emptied). The chargers' passwords are keyed hashes, as the
registry makes them (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "lafa_bench_ocpp"
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/13"
SECRET = "bench-secret-key"  # noqa: S105 - a scratch server
CHARGER_KEY = "bench-charger-key-0123456789abcdef"
PASSWORD = "bench-charger-password"  # noqa: S105 - scratch chargers
PRICE_CENTS = 450


def stamp(offset: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + offset)) + "Z"


# --- set-up ---------------------------------------------------------------------------


def identity(i: int) -> str:
    return f"BENCH-{i:05d}"


def tag(i: int) -> str:
    return f"bench-{i:05d}"  # a card per charger, with a driver under contract


def prepare_database(n: int, drivers: bool = False) -> None:
    """A fresh, migrated database with N chargers (keyed password hashes, as the
    registry makes them); with `drivers`, a driver per charger with an active contract
    and a card `tag(i)`, and a price at the depot, so each session is billed."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    from alembic import command
    from alembic.config import Config
    from redis import Redis

    from portal.db import make_engine
    from portal.passwords import hash_machine_secret

    engine = make_engine(DB_URL)
    config = Config(str(ROOT / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "INSERT INTO depots"
            " (code, name, address, timezone, cfe_tariff, site_power_kw, created_at)"
            " VALUES ('BEN', 'Bench', 'CDMX', 'America/Mexico_City', 'GDMTH', 5000, now())"
            " RETURNING id"
        )
        depot_id = cur.fetchone()[0]
        cur.executemany(
            "INSERT INTO chargers (identity, depot_id, registration, password_hash, status,"
            " online, heartbeat_interval_s, created_at)"
            " VALUES (%s, %s, 'accepted', %s, 'unknown', false, 60, now())",
            [
                (identity(i), depot_id, hash_machine_secret(CHARGER_KEY, identity(i), PASSWORD))
                for i in range(n)
            ],
        )
        cur.execute(
            "INSERT INTO charger_connectors"
            " (charger_id, evse_id, connector_id, connector_type, max_kw, status)"
            " SELECT id, e, 1, CASE e WHEN 1 THEN 'CCS2' ELSE 'GBT' END, 60, 'unknown'"
            " FROM chargers, generate_series(1, 2) AS e"
        )
        if drivers:
            _add_drivers(cur, n, depot_id)
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    Redis.from_url(REDIS_URL).flushdb()


def _add_drivers(cur: object, n: int, depot_id: int) -> None:
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO depot_energy_prices (depot_id, valid_from, price_per_kwh_cents, created_at)"
        " VALUES (%s, '2024-01-01', %s, now())",
        (depot_id, PRICE_CENTS),
    )
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO drivers (first_name, last_name, curp, phone, platforms, status, created_at)"
        " SELECT 'Banco', 'Prueba ' || i, 'BENC' || lpad(i::text, 14, '0'),"
        "  '55' || lpad(i::text, 8, '0'), '[]', 'active', now()"
        " FROM generate_series(0, %s - 1) AS i",
        (n,),
    )
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO vehicles (vin, plate, make, model, year, battery_kwh, range_km,"
        " connector_type, depot_id, status, created_at)"
        " SELECT 'BENCHVIN' || lpad(i::text, 9, '0'), 'BEN-' || i, 'BYD', 'Dolphin Mini',"
        "  2025, 38.8, 380, 'CCS2', %s, 'leased', now()"
        " FROM generate_series(0, %s - 1) AS i",
        (depot_id, n),
    )
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO contracts (number, driver_id, vehicle_id, weekly_rent_cents,"
        " deposit_cents, late_fee_cents, grace_days, term_weeks, starts_on, status, created_at)"
        " SELECT 'BENCH-' || d.id, d.id, v.id, 350000, 700000, 25000, 2, 156,"
        "  current_date - 70, 'active', now()"
        " FROM drivers AS d JOIN vehicles AS v ON v.plate = 'BEN-' || substr(d.curp, 5)::int"
    )
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO id_tags (tag, driver_id, active, created_at)"
        " SELECT 'bench-' || lpad(substr(curp, 5)::int::text, 5, '0'), id, true, now()"
        " FROM drivers"
    )


def start_server(kind: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": SECRET,
        "CHARGER_SECRET_KEY": CHARGER_KEY,
        "OCPP_HOST": "127.0.0.1",
        "OCPP_PORT": str(port),
        "OCPP_HEARTBEAT_INTERVAL": "60",
        "LOG_LEVEL": "WARNING",
        "LAFA_DEMO": "0",
        "LAFA_ENV": "development",  # a scratch server: the development defaults are fine
    }
    if kind == "csms":
        args = [sys.executable, "-m", "charging.csms"]
    else:
        args = [sys.executable, __file__, "--echo-server", str(port)]
    process = subprocess.Popen(args, cwd=ROOT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- the bare library server (baseline) ---------------------------------------------


def echo_server(port: int) -> None:
    """The `ocpp` library answering the same calls with canned answers, nothing stored."""
    import ocpp.messages
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action
    from websockets.asyncio.server import serve

    ocpp.messages.ASYNC_VALIDATION = False
    counter = iter(range(1, 10**9))

    class Echo(ChargePoint):
        @on(Action.boot_notification)
        def boot(self, **kw):
            return call_result.BootNotification(
                current_time=stamp(), interval=60, status="Accepted"
            )

        @on(Action.heartbeat)
        def heartbeat(self, **kw):
            return call_result.Heartbeat(current_time=stamp())

        @on(Action.authorize)
        def authorize(self, **kw):
            return call_result.Authorize(id_tag_info={"status": "Accepted"})

        @on(Action.status_notification)
        def status(self, **kw):
            return call_result.StatusNotification()

        @on(Action.meter_values)
        def meter_values(self, **kw):
            return call_result.MeterValues()

        @on(Action.start_transaction)
        def on_start(self, **kw):
            return call_result.StartTransaction(
                transaction_id=next(counter), id_tag_info={"status": "Accepted"}
            )

        @on(Action.stop_transaction)
        def on_stop(self, **kw):
            return call_result.StopTransaction()

    async def handler(ws):
        cp = Echo(ws.request.path.rsplit("/", 1)[-1], ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    async def main():
        import logging

        logging.getLogger("ocpp").setLevel(logging.WARNING)
        # The CSMS's listen backlog (OCPP_BACKLOG): with asyncio's 100 a burst's SYNs
        # overflow and are retried a second later, which would handicap the reference.
        async with serve(
            handler,
            "127.0.0.1",
            port,
            subprotocols=["ocpp1.6"],
            compression=None,
            ping_interval=30,
            backlog=4096,
        ) as server:
            await server.serve_forever()

    asyncio.run(main())


# --- the chargers ----------------------------------------------------------------------


@dataclass
class Stats:
    sent: int = 0
    answered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    connected: int = 0
    booted: int = 0
    failed_connects: int = 0


class Charger:
    def __init__(self, url: str, identity: str, stats: Stats) -> None:
        self.url, self.identity, self.stats = url, identity, stats
        self.n = 0
        self.ws: websockets.ClientConnection | None = None

    async def connect(self) -> None:
        token = base64.b64encode(f"{self.identity}:{PASSWORD}".encode()).decode()
        self.ws = await websockets.connect(
            f"{self.url}/{self.identity}",
            subprotocols=["ocpp1.6"],
            additional_headers={"Authorization": f"Basic {token}"},
            compression=None,
            open_timeout=120,
            ping_interval=None,
        )
        self.stats.connected += 1

    async def call(self, action: str, payload: dict) -> dict | None:
        assert self.ws is not None
        self.n += 1
        uid = f"{self.identity}-{self.n}"
        started = time.perf_counter()
        self.stats.sent += 1
        await self.ws.send(json.dumps([2, uid, action, payload]))
        answer = json.loads(await self.ws.recv())
        took = time.perf_counter() - started
        self.stats.latencies.append(took)
        self.stats.by_action.setdefault(action, []).append(took)
        if answer[0] == 3 and answer[1] == uid:
            self.stats.answered += 1
            return answer[2]
        self.stats.errors += 1
        return None

    async def boot(self) -> None:
        await self.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B-2"}
        )
        self.stats.booted += 1
        for connector in (1, 2):
            await self.call(
                "StatusNotification",
                {
                    "connectorId": connector,
                    "errorCode": "NoError",
                    "status": "Available",
                    "timestamp": stamp(),
                },
            )

    async def run(self, period: float, until: float, session: bool, rng: random.Random) -> None:
        meter = rng.randrange(1_000_000, 50_000_000)
        transaction_id = None
        await asyncio.sleep(rng.uniform(0, period))
        if session:
            answer = await self.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "BENCHTAG", "meterStart": meter, "timestamp": stamp()},
            )
            transaction_id = answer["transactionId"] if answer else None
        while time.monotonic() < until:
            await self.call("Heartbeat", {})
            meter += rng.randrange(50, 200) if transaction_id else 0
            payload: dict = {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": stamp(),
                        "sampledValue": [
                            {
                                "value": str(meter),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {
                                "value": "22000" if transaction_id else "0",
                                "measurand": "Power.Active.Import",
                                "unit": "W",
                            },
                        ],
                    }
                ],
            }
            if transaction_id is not None:
                payload["transactionId"] = transaction_id
            await self.call("MeterValues", payload)
            await asyncio.sleep(period)
        if transaction_id is not None:
            await self.call(
                "StopTransaction",
                {
                    "transactionId": transaction_id,
                    "meterStop": meter,
                    "timestamp": stamp(),
                    "reason": "Local",
                },
            )


async def connect_all(chargers: list[Charger], concurrency: int = 200) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(charger: Charger) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    await charger.connect()
                    await charger.boot()
                    return
                except (OSError, websockets.WebSocketException, TimeoutError):
                    charger.stats.failed_connects += 1
                    await asyncio.sleep(0.5 * (attempt + 1))

    await asyncio.gather(*(one(c) for c in chargers))


async def drive(
    url: str, n: int, duration: float, period: float, sessions: float, pid: int
) -> dict:
    stats = Stats()
    rss_before = rss_kib(pid)
    chargers = [Charger(url, identity(i), stats) for i in range(n)]
    started = time.monotonic()
    await connect_all(chargers)
    connect_s = time.monotonic() - started
    rss_connected = rss_kib(pid)
    boot_latencies = list(stats.latencies)
    stats.latencies.clear()
    stats.by_action.clear()
    sent_before, answered_before = stats.sent, stats.answered
    rng = random.Random(7)
    until = time.monotonic() + duration
    await asyncio.gather(
        *(
            c.run(period, until, i < n * sessions, random.Random(i))
            for i, c in enumerate(chargers)
            if c.ws
        )
    )
    rss_end = rss_kib(pid)
    for c in chargers:
        if c.ws is not None:
            await c.ws.close()
    lat = sorted(stats.latencies)
    del rng
    return {
        "connected": stats.connected,
        "booted": stats.booted,
        "connect_s": connect_s,
        "boot_p99_ms": 1000 * boot_latencies[int(len(boot_latencies) * 0.99) - 1]
        if boot_latencies
        else 0,
        "sent": stats.sent - sent_before,
        "answered": stats.answered - answered_before,
        "errors": stats.errors,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0,
        "p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1] if lat else 0,
        "max_ms": 1000 * lat[-1] if lat else 0,
        "rate": (stats.sent - sent_before) / duration,
        "rss_per_conn_kib": (rss_connected - rss_before) / max(1, stats.connected),
        "rss_end_mib": rss_end / 1024,
        "p99_by_action": {
            action: 1000 * sorted(v)[max(0, int(len(v) * 0.99) - 1)]
            for action, v in sorted(stats.by_action.items())
        },
    }


def run_against(kind: str, port: int, args: argparse.Namespace) -> dict:
    server = start_server(kind, port)
    try:
        time.sleep(1)
        return asyncio.run(
            drive(
                f"ws://127.0.0.1:{port}/ocpp",
                args.chargers,
                args.duration,
                args.period,
                args.sessions,
                server.pid,
            )
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def report(name: str, r: dict) -> None:
    print(
        f"{name:>6}: {r['connected']} connected ({r['booted']} booted in {r['connect_s']:.1f} s,"
        f" boot p99 {r['boot_p99_ms']:.0f} ms); {r['answered']}/{r['sent']} calls answered"
        f" ({r['rate']:.0f}/s), {r['errors']} errors; p50 {r['p50_ms']:.1f} ms,"
        f" p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms;"
        f" RSS {r['rss_per_conn_kib']:.0f} KiB/connection ({r['rss_end_mib']:.0f} MiB at the end);"
        " p99 ms by action: " + ", ".join(f"{a} {ms:.0f}" for a, ms in r["p99_by_action"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--period", type=float, default=10)
    parser.add_argument("--sessions", type=float, default=0.10)
    parser.add_argument("--only", choices=["bare", "csms"], default=None)
    parser.add_argument("--echo-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        echo_server(args.echo_server)
        return
    print(
        f"OCPP load: {args.chargers} chargers, Heartbeat + MeterValues every {args.period:.0f} s,"
        f" {args.sessions:.0%} in a session, {args.duration:.0f} s"
    )
    prepare_database(args.chargers)
    if args.only != "csms":
        bare = run_against("bare", 9811, args)
        report("bare", bare)
    if args.only != "bare":
        csms = run_against("csms", 9812, args)
        report("csms", csms)
    if args.only:
        return
    print(
        f"ratio csms/bare: p50 {csms['p50_ms'] / max(bare['p50_ms'], 1e-9):.1f}x,"
        f" p99 {csms['p99_ms'] / max(bare['p99_ms'], 1e-9):.1f}x,"
        f" RSS/connection {csms['rss_per_conn_kib'] / max(bare['rss_per_conn_kib'], 1e-9):.1f}x"
    )
    ok = csms["answered"] == csms["sent"] and csms["p99_ms"] < 250
    print("target (every call answered, p99 < 250 ms):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
