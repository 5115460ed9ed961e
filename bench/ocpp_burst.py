"""OCPP bursts: N chargers at once, each connecting, booting, authorizing, starting a
transaction, sending meter values and stopping; and a cold start, N chargers that
never connected before (nothing cached anywhere) connecting and booting at once.
Both against the CSMS and against a minimal reference server (the bare `ocpp`
library answering with canned answers, storing nothing), measured in the same run.

    python bench/ocpp_burst.py [--chargers 1000] [--meter-values 3] [--only burst|cold]

Targets (issue 16): the burst within 1.5x the reference's wall time with every
call's p99 under 1 s; the cold fleet admitted within 10 s. Every session has a driver
and a price, so each stop posts to the ledger. The machine's load average is printed:
the figures move with what else runs.

Uses the scratch database and Redis db of bench/ocpp_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import websockets
from ocpp_load import (
    DB_NAME,
    PASSWORD,
    PRICE_CENTS,
    identity,
    prepare_database,
    stamp,
    start_server,
    tag,
)


@dataclass
class Run:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    refused: int = 0  # handshakes refused or dropped, then retried
    done: int = 0
    cpu_s: float = 0.0  # the server process's CPU time (user + system) during the run


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _open(url: str, who: str, run: Run, attempts: int = 60) -> websockets.ClientConnection:
    token = base64.b64encode(f"{who}:{PASSWORD}".encode()).decode()
    for _ in range(attempts):
        try:
            return await websockets.connect(
                f"{url}/{who}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Basic {token}"},
                compression=None,
                open_timeout=30,
                ping_interval=None,
            )
        except (OSError, websockets.WebSocketException, TimeoutError):
            run.refused += 1
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{who} could not connect")


async def _call(ws: websockets.ClientConnection, run: Run, uid: str, action: str, payload: dict):
    started = time.perf_counter()
    await ws.send(json.dumps([2, uid, action, payload]))
    answer = json.loads(await ws.recv())
    run.latencies[action].append(time.perf_counter() - started)
    if answer[0] != 3 or answer[1] != uid:
        run.errors += 1
        return {}
    return answer[2]


async def charger_session(url: str, i: int, meter_values: int, run: Run) -> None:
    """Connect, boot, authorize, start, meter values, stop: as fast as answers come."""
    who = identity(i)
    ws = await _open(url, who, run)
    try:
        boot = {"chargePointVendor": "Bench", "chargePointModel": "Burst"}
        await _call(ws, run, f"{who}-b", "BootNotification", boot)
        await _call(ws, run, f"{who}-a", "Authorize", {"idTag": tag(i)})
        # A session of 30 minutes on a 60 kW connector, 2 kWh every 5 minutes.
        began = -1800
        start = {"connectorId": 1, "idTag": tag(i), "meterStart": 0, "timestamp": stamp(began)}
        answer = await _call(ws, run, f"{who}-s", "StartTransaction", start)
        tx = answer.get("transactionId", 0)
        for k in range(1, meter_values + 1):
            reading = {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [
                    {
                        "timestamp": stamp(began + 300 * k),
                        "sampledValue": [
                            {"value": str(2000 * k), "measurand": "Energy.Active.Import.Register"},
                            {"value": "24000", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            }
            await _call(ws, run, f"{who}-m{k}", "MeterValues", reading)
        stop = {
            "transactionId": tx,
            "meterStop": 2000 * meter_values + 500,
            "timestamp": stamp(),
            "reason": "EVDisconnected",
            "idTag": tag(i),
        }
        await _call(ws, run, f"{who}-e", "StopTransaction", stop)
        run.done += 1
    finally:
        await ws.close()


async def cold_boot(url: str, i: int, run: Run) -> None:
    who = identity(i)
    ws = await _open(url, who, run)
    try:
        boot = {"chargePointVendor": "Bench", "chargePointModel": "Cold"}
        if (await _call(ws, run, f"{who}-b", "BootNotification", boot)).get("status"):
            run.done += 1
    finally:
        await ws.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else 0.0


def measure(kind: str, port: int, n: int, work, profile: str | None = None) -> tuple[float, Run]:  # type: ignore[no-untyped-def]
    """Start the server, run `work(url, i, run)` for every charger at once, stop it.
    With `profile`, py-spy (`pip install py-spy`) samples the server meanwhile and
    writes its collapsed stacks there."""
    server = start_server(kind, port)
    url = f"ws://127.0.0.1:{port}/ocpp"
    run = Run()
    spy = None
    try:
        time.sleep(1)
        if profile:
            py_spy = str(Path(sys.executable).with_name("py-spy"))
            spy = subprocess.Popen(
                [py_spy, "record", "--pid", str(server.pid), "--format", "raw", "-o", profile],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)

        async def everyone() -> None:
            await asyncio.gather(*(work(url, i, run) for i in range(n)))

        started, cpu = time.monotonic(), cpu_seconds(server.pid)
        asyncio.run(everyone())
        run.cpu_s = cpu_seconds(server.pid) - cpu
        return time.monotonic() - started, run
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def report(kind: str, seconds: float, run: Run, n: int) -> None:
    calls = sum(len(v) for v in run.latencies.values())
    per_action = ", ".join(
        f"{action} {1000 * p99(values):.0f}" for action, values in sorted(run.latencies.items())
    )
    print(
        f"{kind:>6}: {run.done}/{n} done in {seconds:.1f} s ({run.cpu_s:.1f} s CPU);"
        f" {calls} calls, {run.errors} errors,"
        f" {run.refused} handshakes retried; p99 ms: {per_action}"
    )


def check_billing(n: int) -> None:
    """Every session stored once, closed, and billed once."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}") as conn:
        sessions, closed, billed, samples = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed'),"
            " (SELECT count(*) FROM ledger_entries WHERE kind = 'energy'),"
            " (SELECT count(*) FROM meter_values) FROM charging_sessions"
        ).fetchone()
    print(
        f"  stored: {sessions} sessions ({closed} completed), {billed} energy entries"
        f" at {PRICE_CENTS} centavos/kWh, {samples} samples"
    )
    if not sessions == closed == billed == n:
        print("  NOT every session stored, closed and billed once")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--meter-values", type=int, default=3)
    parser.add_argument("--only", choices=["burst", "cold"], default=None)
    parser.add_argument("--profile", help="py-spy samples of the CSMS (collapsed stacks) here")
    args = parser.parse_args()
    n = args.chargers
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores, shared machine)")

    if args.only != "cold":
        print(
            f"OCPP burst: {n} chargers at once, each boot + authorize + start"
            f" + {args.meter_values} meter values + stop"
        )
        prepare_database(n, drivers=True)
        bare_s, bare = measure("bare", 9831, n, charger_session_with(args.meter_values))
        report("bare", bare_s, bare, n)
        csms_s, csms = measure(
            "csms", 9832, n, charger_session_with(args.meter_values), args.profile
        )
        report("csms", csms_s, csms, n)
        check_billing(n)
        worst = max(p99(v) for v in csms.latencies.values())
        print(
            f"ratio csms/bare: wall {csms_s / bare_s:.2f}x; worst p99 {1000 * worst:.0f} ms;"
            f" load average now {os.getloadavg()[0]:.1f}"
        )
        met = csms_s <= 1.5 * bare_s and worst < 1.0 and csms.done == n and not csms.errors
        print("target (wall <= 1.5x bare, every p99 < 1 s, all done):", "met" if met else "NOT met")

    if args.only != "burst":
        print(f"OCPP cold start: {n} chargers never seen before connect and boot at once")
        prepare_database(n)  # nothing cached: a fresh database and an empty Redis
        bare_s, bare = measure("bare", 9833, n, cold_boot)
        report("bare", bare_s, bare, n)
        csms_s, csms = measure("csms", 9834, n, cold_boot)
        report("csms", csms_s, csms, n)
        print(f"ratio csms/bare: {csms_s / bare_s:.2f}x; load average now {os.getloadavg()[0]:.1f}")
        print("target (all admitted within 10 s):", "met" if csms_s < 10 else "NOT met")


def charger_session_with(meter_values: int):  # type: ignore[no-untyped-def]
    async def work(url: str, i: int, run: Run) -> None:
        await charger_session(url, i, meter_values, run)

    return work


if __name__ == "__main__":
    main()
