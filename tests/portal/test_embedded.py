"""`make run` where nothing answers: bin/run starts PostgreSQL, Redis and the MQTT broker
from Python packages (portal/embedded.py) and the whole portal on them.

Each run is `bin/run` in a network namespace of its own (`unshare -n`: only root may),
where nothing listens, with a temporary instance folder: the machine's own services and
a developer's data are not touched. The demo is a small one (LAFA_DEMO_VEHICLES).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from portal.config import ROOT
from portal.embedded import ports_taken, procfiles
from tests.waiting import wait_until

STARTUP_SECONDS = 300  # initdb, migrations and the demo seed on a busy 2-core machine
CLONE_NEWNET = 0x40000000
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "MQTT_URL", "MQTT_PROTOCOL", "LAFA_BIND")

needs_a_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None,
    reason="starts make run in a network namespace where nothing listens: needs root "
    "(unshare -n, nsenter)",
)


def _enter_namespace(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


class MakeRun:
    """`bin/run` in a network namespace of its own; what it prints goes to `log`.

    `unshare`, bash, bin/run and honcho are one process (each execs the next): `pid`.
    Calls through `inside()` run in a thread that joined the namespace, so their
    connections reach what listens there.
    """

    def __init__(self, instance: Path, script: str = "exec bin/run") -> None:
        self.instance = instance
        self.log = instance.parent / f"make-run-{time.monotonic_ns()}.log"
        self.env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
        self.env |= {"LAFA_INSTANCE": str(instance), "LAFA_DEMO": "1"}
        # A shared group set, as in production: make run drops it for amqtt (MQTT 3.1.1).
        self.env |= {"LAFA_DEMO_VEHICLES": "4", "TELEMETRY_SHARED_GROUP": "lafa"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["unshare", "-n", "bash", "-c", f"ip link set lo up && {script}"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid
        self.descendants: list[psutil.Process] = []
        namespace = f"/proc/{self.pid}/ns/net"
        ours = os.readlink("/proc/self/ns/net")
        # Until unshare has made it, the process is still in ours.
        wait_until(lambda: os.readlink(namespace) != ours, timeout=30, what="the network namespace")
        self._thread = ThreadPoolExecutor(1, initializer=_enter_namespace, initargs=(namespace,))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def inside(self, call: Callable[..., Any], *args: Any) -> Any:
        return self._thread.submit(call, *args).result()

    def wait_for_the_portal(self) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"make run ended ({self.process.returncode})")
            return bool(self.inside(portal_answers))

        try:
            wait_until(answers, timeout=STARTUP_SECONDS, what="the portal")
        except AssertionError as error:
            raise AssertionError(f"{error}; make run said:\n{self.output()[-6000:]}") from None

    def ended(self, seconds: float) -> int:
        """Wait (bounded) for make run to end; its exit code."""
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make run still running after {seconds:.0f} s") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGINT)  # Ctrl-C
            self.ended(60)
        self._thread.shutdown()

    def remember_processes(self) -> None:
        self.descendants = psutil.Process(self.pid).children(recursive=True)

    def still_running(self) -> list[str]:
        alive = [p for p in self.descendants if p.is_running() and p.status() != "zombie"]
        return [" ".join(p.cmdline()) for p in alive]


class Browser:
    """A person's browser: cookies, the CSRF token of the form they fill in."""

    def __init__(self) -> None:
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(f"http://127.0.0.1:5000{path}"))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(f"http://127.0.0.1:5000{path}", data=data))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()

    def log_in(self, identifier: str, password: str) -> str:
        _, page = self.get("/entrar")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, "no CSRF token on the log-in page"
        status, page = self.post(
            "/entrar", {"csrf_token": token[1], "identifier": identifier, "password": password}
        )
        assert status == 200, page
        return page


def portal_answers() -> bool:
    try:
        return Browser().get("/entrar")[0] == 200
    except OSError:
        return False


def demo_login(output: str, role: str) -> tuple[str, str]:
    """The demo log-in that make run printed for `role` (login, password)."""
    found = re.search(rf"^\S+\s+\S+\s+\|\s+{role}\s+(\S+)\s+(\S+)$", output, re.MULTILINE)
    assert found, f"make run printed no {role} log-in"
    return found[1], found[2]


def last_report_age(driver: Browser) -> timedelta | None:
    """How old the car's last report is on the driver's page, as they see it."""
    status, fragment = driver.get("/conductor/vehicle-status")
    assert status == 200
    shown = re.search(r'<time datetime="([^"]+)"', fragment)
    return datetime.now(UTC) - datetime.fromisoformat(shown[1]) if shown else None


def chargers_online(staff: Browser) -> int:
    status, page = staff.get("/operacion/cargadores")
    assert status == 200
    return page.count('class="badge badge-online"')


def readings_stored() -> int:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/lafa", connect_timeout=5) as db:
        row = db.execute("SELECT count(*) FROM telemetry_readings").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def instance() -> Iterator[Path]:
    # Not under pytest's tmp_path, whose parents only root may cross: the embedded
    # PostgreSQL runs as an unprivileged user.
    folder = Path(tempfile.mkdtemp(prefix="lafa-make-run-"))
    yield folder / "instance"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def running(instance: Path) -> Iterator[MakeRun]:
    run = MakeRun(instance)
    try:
        run.wait_for_the_portal()
        yield run
    finally:
        run.stop()


@needs_a_namespace
def test_make_run_starts_the_whole_portal_on_embedded_services(running):
    output = running.output()
    assert "PostgreSQL:  embedded" in output
    assert "Redis:       embedded" in output
    assert "MQTT broker: embedded" in output
    assert f"data in {running.instance}/postgres" in output

    driver = Browser()
    running.inside(driver.log_in, *demo_login(output, "driver"))
    age = wait_until(
        lambda: running.inside(last_report_age, driver), timeout=120, what="the car to report"
    )
    assert age < timedelta(minutes=1)

    staff = Browser()
    running.inside(staff.log_in, *demo_login(output, "staff"))
    assert wait_until(
        lambda: running.inside(chargers_online, staff), timeout=120, what="a charger online"
    )


@needs_a_namespace
def test_a_second_make_run_says_so_and_leaves_the_first_alone(running):
    second = subprocess.run(
        ["nsenter", f"--net=/proc/{running.pid}/ns/net", "bin/run"],
        cwd=ROOT,
        env=running.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"make run is already running on {running.instance} (pid {running.pid})" in (
        second.stderr
    )
    assert running.inside(portal_answers)


@needs_a_namespace
def test_a_killed_embedded_service_stops_everything_and_the_data_stays(running, instance):
    running.inside(
        lambda: wait_until(lambda: readings_stored() > 0, timeout=120, what="a stored reading")
    )
    stored = running.inside(readings_stored)
    running.remember_processes()
    wrapper = next(p for p in running.descendants if "serve redis" in " ".join(p.cmdline()))
    (redis_server,) = wrapper.children()
    redis_server.kill()

    assert running.ended(60) != 0
    assert "The embedded Redis stopped by itself (killed by SIGKILL)" in running.output()
    assert running.still_running() == []  # no half-running portal

    again = MakeRun(instance)
    try:
        again.wait_for_the_portal()
        assert "Creating the embedded PostgreSQL's data" not in again.output()
        assert again.inside(readings_stored) >= stored
        again.remember_processes()
    finally:
        again.stop()  # Ctrl-C
    assert again.still_running() == []


HOLD_PORT_5000 = """
import socket, time
with socket.socket() as taken:
    taken.bind(("127.0.0.1", 5000))
    taken.listen()
    print("listening", flush=True)
    time.sleep(300)
"""


@needs_a_namespace
def test_a_port_in_use_is_named_before_anything_starts(instance):
    busy = instance.parent / "busy"
    # Another program listens on the portal's port in that namespace; then make run.
    script = f"exec 3< <(exec python3 -c '{HOLD_PORT_5000}'); read -r _ <&3; exec bin/run"
    run = MakeRun(busy, script)
    try:
        assert run.ended(120) == 1
    finally:
        run.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGTERM)  # the program on port 5000
    assert re.search(
        r"Port 5000 \(the portal, 127.0.0.1\) is in use by \S+ \(pid \d+\)", run.output()
    )
    assert not (busy / "postgres").exists()  # nothing was started


def test_the_run_waits_for_the_embedded_services_and_one_listener_takes_mqtt_3_1_1():
    setup, run = procfiles(["postgres", "redis", "mqtt"], demo=True, vehicles="4")
    lines = dict(line.split(": ", 1) for line in run.splitlines())
    assert lines["postgres"] == "exec python -m portal.embedded serve postgres"
    assert "telemetry2" not in lines
    waiting = "python -m portal.embedded wait postgres redis mqtt && "
    assert all(lines[name].startswith(waiting) for name in ("web", "worker", "csms", "simulator"))
    assert "mqtt" not in setup
    assert setup.endswith("flask db-upgrade && flask seed-demo --vehicles 4\n")

    setup, run = procfiles([], demo=False, vehicles=None)
    assert "seed-demo" not in setup
    assert "wait" not in run
    assert {"telemetry", "telemetry2"} <= {line.split(":")[0] for line in run.splitlines()}


def test_a_port_in_use_is_named_with_its_program(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LAFA_BIND", f"127.0.0.1:{port}")
        (problem,) = (p for p in ports_taken([]) if f"Port {port}" in p)
    assert f"Port {port} (the portal, 127.0.0.1) is in use by" in problem
    assert "set LAFA_BIND" in problem
