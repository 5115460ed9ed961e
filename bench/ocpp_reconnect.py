"""Reconnect storm: N chargers connected to the CSMS, the CSMS restarts, and every
charger reconnects at the same moment. Measures the time from the new process
listening until all N have been answered BootNotification Accepted (target: 30 s),
against the same storm on the bare `ocpp` library server (baseline, same run).

    python bench/ocpp_reconnect.py [--chargers 2000]

Uses the scratch database and Redis db of bench/ocpp_load.py (keyed password hashes,
as the registry makes them).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import time

import websockets
from ocpp_load import Charger, Stats, identity, prepare_database, start_server


async def storm(url: str, chargers: list[Charger]) -> tuple[float, int, int]:
    """Every charger reconnects and boots at once (no pacing, retry on refusal)."""
    started = time.monotonic()
    retries = 0

    async def one(charger: Charger) -> bool:
        nonlocal retries
        for _ in range(30):
            try:
                await charger.connect()
                await charger.boot()
                return True
            except (OSError, websockets.WebSocketException, TimeoutError):
                retries += 1
                await asyncio.sleep(0.5)
        return False

    done = await asyncio.gather(*(one(c) for c in chargers))
    return time.monotonic() - started, sum(done), retries


async def connected_fleet(url: str, n: int) -> list[Charger]:
    stats = Stats()
    chargers = [Charger(url, identity(i), stats) for i in range(n)]
    gate = asyncio.Semaphore(200)

    async def one(c: Charger) -> None:
        async with gate:
            await c.connect()
            await c.boot()

    await asyncio.gather(*(one(c) for c in chargers))
    return chargers


def measure(kind: str, port: int, n: int) -> tuple[float, int, int]:
    server = start_server(kind, port)
    url = f"ws://127.0.0.1:{port}/ocpp"
    chargers = asyncio.run(connected_fleet(url, n))
    server.send_signal(signal.SIGKILL)  # a crash: nobody says goodbye
    server.wait()
    # The new process; chargers notice the dead socket and all reconnect at once.
    server = start_server(kind, port)
    try:
        for c in chargers:
            c.ws = None
        return asyncio.run(storm(url, chargers))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, default=2000)
    args = parser.parse_args()
    print(f"OCPP reconnect storm: {args.chargers} chargers reconnect at once after a crash")
    prepare_database(args.chargers)
    results = {}
    for kind, port in (("bare", 9821), ("csms", 9822)):
        seconds, booted, retries = measure(kind, port, args.chargers)
        results[kind] = seconds
        print(f"{kind:>6}: {booted}/{args.chargers} booted in {seconds:.1f} s ({retries} retries)")
    print(f"ratio csms/bare: {results['csms'] / max(results['bare'], 1e-9):.1f}x")
    print("target (all booted within 30 s):", "met" if results["csms"] < 30 else "NOT met")


if __name__ == "__main__":
    main()
