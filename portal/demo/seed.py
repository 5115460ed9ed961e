"""Demo data: three CDMX depots, a fleet, drivers with contracts, staff.

Deterministic (seeded) and idempotent: running it twice changes nothing; running it
with more vehicles adds only what is missing. No Flask here, so benchmarks use it too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.demo.bookings import seed_bookings
from portal.demo.charging import seed_charging
from portal.demo.credit import seed_demo_credit
from portal.demo.history import (
    TELEMETRY_DAYS,
    history_start,
    past_charges,
    resume_day,
    seed_activity_history,
    seed_time,
)
from portal.demo.incidents import seed_incidents
from portal.demo.ledger import HISTORY_WEEKS, seed_ledger_history
from portal.demo.payments import seed_demo_payments
from portal.demo.world import day_start, load_world
from portal.models import (
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    DriverStatus,
    Role,
    User,
    Vehicle,
    VehicleStatus,
)
from portal.passwords import hash_password
from portal.services import balances
from portal.services.identifiers import (
    luhn_complete,
    make_curp,
    make_rfc,
    with_vin_check_digit,
)
from portal.services.kpis.daily import refresh_rollups
from portal.timeutil import local_today

DEMO_PASSWORD = "lafa-demo-2026"  # noqa: S105 - demo mode only, printed by `make run`

DEPOTS = [
    (
        "VAL",
        "Depósito Vallejo",
        "Calz. Vallejo 1090, Industrial Vallejo, Azcapotzalco, 02300 CDMX",
        Decimal("19.489500"),
        Decimal("-99.146800"),
        Decimal("400"),
    ),
    (
        "IZT",
        "Depósito Iztapalapa",
        "Av. Tláhuac 4380, San Lorenzo Tezonco, Iztapalapa, 09900 CDMX",
        Decimal("19.311800"),
        Decimal("-99.067300"),
        Decimal("300"),
    ),
    (
        "COY",
        "Depósito Coyoacán",
        "Av. Aztecas 215, Ajusco, Coyoacán, 04300 CDMX",
        Decimal("19.324600"),
        Decimal("-99.158900"),
        Decimal("250"),
    ),
]

MODELS = [
    # make, model, battery kWh, range km, connector
    ("BYD", "Dolphin Mini", Decimal("38.8"), 380, ConnectorType.CCS2),
    ("BYD", "Dolphin Mini", Decimal("30.0"), 300, ConnectorType.CCS2),
    ("JAC", "E10X", Decimal("31.4"), 320, ConnectorType.GBT),
]
COLORS = ["Blanco", "Gris", "Negro", "Azul", "Rosa", "Verde"]

MALE_NAMES = [
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Miguel",
    "Jorge",
    "Alejandro",
    "Fernando",
    "Ricardo",
    "Eduardo",
    "Francisco",
    "Roberto",
    "Daniel",
    "Javier",
    "Arturo",
    "Sergio",
    "Raúl",
    "Manuel",
    "Óscar",
    "Héctor",
    "Iván",
    "Marco",
    "Pedro",
    "Adrián",
]
FEMALE_NAMES = [
    "María",
    "Guadalupe",
    "Alejandra",
    "Verónica",
    "Gabriela",
    "Patricia",
    "Adriana",
    "Claudia",
    "Mónica",
    "Leticia",
    "Rosa",
    "Laura",
    "Daniela",
    "Fernanda",
    "Karla",
    "Sofía",
    "Itzel",
    "Ximena",
    "Brenda",
    "Lucía",
]
SURNAMES = [
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "Torres",
    "Díaz",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "Ortiz",
    "Moreno",
    "Castillo",
    "Romero",
    "Álvarez",
    "Méndez",
    "Chávez",
    "Rivera",
    "Juárez",
    "Ramos",
    "Domínguez",
    "Herrera",
    "Medina",
    "Castro",
    "Vargas",
    "Guzmán",
    "Salazar",
]
STREETS = [
    "Av. Insurgentes Sur",
    "Calz. de Tlalpan",
    "Av. Río Churubusco",
    "Eje Central",
    "Av. Revolución",
    "Calz. Ermita Iztapalapa",
    "Av. Universidad",
    "Av. Cuauhtémoc",
    "Calle Mixcoac",
    "Av. División del Norte",
    "Calle Norte 45",
    "Av. Oceanía",
]
COLONIAS = [
    ("Narvarte", "03020"),
    ("Portales", "03300"),
    ("Santa María la Ribera", "06400"),
    ("Agrícola Oriental", "08500"),
    ("Pedregal de Santo Domingo", "04369"),
    ("Lindavista", "07300"),
    ("San Rafael", "06470"),
    ("Del Valle", "03100"),
    ("Ajusco", "04300"),
    ("Santa Cruz Meyehualco", "09290"),
]
STATES = ["DF", "DF", "DF", "MC", "MC", "PL", "HG", "GR", "VZ", "OC", "MN"]
PLATFORMS = ["uber", "didi", "indrive", "cabify"]
STAFF = [
    ("Rocío Salinas Vega", "rocio.salinas@lafa.mx", Role.STAFF),
    ("Tomás Ibarra Luna", "tomas.ibarra@lafa.mx", Role.STAFF),
    ("Norma Pineda Cortés", "norma.pineda@lafa.mx", Role.STAFF),
    ("Diego Barrios Ochoa", "diego.barrios@lafa.mx", Role.MANAGER),
    ("Andrea Villaseñor Paz", "andrea.villasenor@lafa.mx", Role.MANAGER),
    ("Mariana Quiroga Solís", "admin@lafa.mx", Role.ADMIN),
]


@dataclass(frozen=True, slots=True)
class SeedSummary:
    depots: int
    vehicles: int
    drivers: int
    contracts: int
    staff: int


def _vin(rng: random.Random, make: str) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    wmi = "LGX" if make == "BYD" else "LJ1"
    return with_vin_check_digit(
        wmi
        + "".join(rng.choice(alphabet) for _ in range(6))
        + "R"
        + "".join(rng.choice(alphabet) for _ in range(7))
    )


def seed_demo(
    session: Session,
    vehicles: int = 150,
    today: date | None = None,
    incident_storage: str | Path | None = None,
    telemetry_days: int = TELEMETRY_DAYS,
) -> SeedSummary:
    """Create what is missing of the demo data set for `vehicles` cars. Flushes, never commits.

    `incident_storage` is where the demo incidents' photos go (default: the configured
    INCIDENT_STORAGE). `telemetry_days`: the days of trackers' readings the history
    has (0: none; the benchmark's baseline). The drivers' account summaries are
    refreshed once, at the end.
    """
    with balances.batched(session):
        return _seed_demo(session, vehicles, today, incident_storage, telemetry_days)


def _seed_demo(
    session: Session,
    vehicles: int,
    today: date | None,
    incident_storage: str | Path | None,
    telemetry_days: int = TELEMETRY_DAYS,
) -> SeedSummary:
    rng = random.Random(2026)
    today = today or local_today()
    password_hash = hash_password(DEMO_PASSWORD)

    depots = []
    for code, name, address, lat, lon, power in DEPOTS:
        depot = session.scalar(select(Depot).where(Depot.code == code))
        if depot is None:
            depot = Depot(
                code=code,
                name=name,
                address=address,
                latitude=lat,
                longitude=lon,
                site_power_kw=power,
            )
            session.add(depot)
        depots.append(depot)

    for full_name, email, role in STAFF:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            session.add(
                User(full_name=full_name, email=email, role=role, password_hash=password_hash)
            )
    session.flush()

    existing_vehicles = session.scalar(select(func.count(Vehicle.id))) or 0
    existing_drivers = session.scalar(select(func.count(Driver.id))) or 0
    n_drivers = vehicles + max(10, vehicles // 15)
    monday = today - timedelta(days=today.weekday())

    # Draw every random value in a fixed order so the i-th car and driver are always
    # the same, whatever exists already.
    for i in range(max(vehicles, n_drivers)):
        sex = rng.choice("HM")
        first = rng.choice(MALE_NAMES if sex == "H" else FEMALE_NAMES)
        last, second = rng.choice(SURNAMES), rng.choice(SURNAMES)
        born = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 33))
        state = rng.choice(STATES)
        curp = make_curp(first, last, second, born, sex, state, rng)
        rfc = make_rfc(curp, rng)
        phone = f"55{10000000 + i * 7919 % 90000000:08d}"
        colonia, cp = rng.choice(COLONIAS)
        address = f"{rng.choice(STREETS)} {rng.randrange(10, 3000)}, {colonia}, {cp} CDMX"
        make, model, kwh, range_km, connector = rng.choice(MODELS)
        vin = _vin(rng, make)
        plate = (
            "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
            + f"-{rng.randrange(100, 1000)}-"
            + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        )
        imei = luhn_complete(f"35{rng.randrange(10**11, 10**12)}0"[:14])
        weeks_in = rng.randrange(1, 150)
        rent = rng.randrange(28, 43) * 10_000
        color = rng.choice(COLORS)
        platforms = rng.sample(PLATFORMS, rng.randrange(1, 3))
        fate = rng.random()

        vehicle = None
        if i < vehicles and i >= existing_vehicles:
            depot = depots[i % len(depots)]
            vehicle = Vehicle(
                vin=vin,
                plate=plate,
                make=make,
                model=model,
                year=2024 + i % 2,
                color=color,
                battery_kwh=kwh,
                range_km=range_km,
                connector_type=connector,
                tracker_imei=imei,
                depot=depot,
            )
            session.add(vehicle)
        if i < n_drivers and i >= existing_drivers:
            on_contract = i < vehicles and fate < 0.93
            user = User(
                full_name=f"{first} {last} {second}",
                phone=phone,
                role=Role.DRIVER,
                password_hash=password_hash,
            )
            driver = Driver(
                user=user,
                first_name=first,
                last_name=last,
                second_last_name=second,
                curp=curp,
                rfc=rfc,
                phone=phone,
                address=address,
                postal_code=cp,
                licence_number=f"CDMX{rng.randrange(10**7, 10**8)}",
                licence_expires_on=today + timedelta(days=rng.randrange(60, 1500)),
                platforms=platforms,
                status=DriverStatus.ACTIVE
                if on_contract
                else rng.choice([DriverStatus.APPLICANT, DriverStatus.FORMER]),
            )
            session.add_all([user, driver])
            if on_contract and vehicle is not None:
                vehicle.status = VehicleStatus.LEASED
                session.add(
                    Contract(
                        number=f"LAFA-{2025 + i % 2}-{i + 1:05d}",
                        driver=driver,
                        vehicle=vehicle,
                        weekly_rent_cents=rent,
                        deposit_cents=rent * 2,
                        late_fee_cents=25_000,
                        grace_days=2,
                        term_weeks=156,
                        starts_on=monday - timedelta(weeks=weeks_in),
                        status=ContractStatus.ACTIVE,
                    )
                )
            elif vehicle is not None and fate > 0.97:
                vehicle.status = VehicleStatus.IN_REPAIR
        if (i + 1) % 500 == 0:
            session.flush()
    session.flush()
    seed_incidents(session, incident_storage)
    seed_charging(session)
    # The history is what the demo world says happened: its charges are billed, its km
    # and a week of its telemetry stored (portal.demo.history).
    now = seed_time(today)
    history_from = history_start(today, HISTORY_WEEKS)
    world = load_world(session, since=day_start(history_from))
    charges = past_charges(session, world, resume_day(session, history_from), now)
    seed_ledger_history(session, today=today, now=now, energy=charges)
    seed_demo_payments(session)
    seed_demo_credit(session, today)
    seed_bookings(session, now=now)
    seed_activity_history(session, world, charges, history_from, now, telemetry_days)
    refresh_rollups(session, today)  # the dashboard's rollup of the history's closed days

    return SeedSummary(
        depots=session.scalar(select(func.count(Depot.id))) or 0,
        vehicles=session.scalar(select(func.count(Vehicle.id))) or 0,
        drivers=session.scalar(select(func.count(Driver.id))) or 0,
        contracts=session.scalar(
            select(func.count(Contract.id)).where(Contract.status == ContractStatus.ACTIVE)
        )
        or 0,
        staff=session.scalar(select(func.count(User.id)).where(User.role != Role.DRIVER)) or 0,
    )


def demo_logins(session: Session) -> list[tuple[str, str]]:
    """(role, login) of one user per role, for `make run` to print; the driver has a car."""
    driver = session.scalar(
        select(User.phone)
        .join(Driver, Driver.user_id == User.id)
        .join(Contract, Contract.driver_id == Driver.id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(User.id)
    )
    logins = [("driver", driver or "")]
    for role in (Role.STAFF, Role.MANAGER, Role.ADMIN):
        email = session.scalar(select(User.email).where(User.role == role).order_by(User.id))
        logins.append((role.value, email or ""))
    return logins
