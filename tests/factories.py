"""Factories as fixtures that return callables with sensible defaults (Indico style)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import (
    Booking,
    Charger,
    ChargerCommand,
    ChargerConnector,
    ChargerRegistration,
    ChargingSession,
    CommandAction,
    ConnectorStatus,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    DriverStatus,
    IdTag,
    OcppVersion,
    Role,
    SessionStatus,
    User,
    Vehicle,
    VehicleStatus,
)
from portal.passwords import hash_password
from portal.services.identifiers import luhn_complete, make_curp
from telemetry.battery import FleetEstimate, MonthPoint, VehicleEstimate
from telemetry.battery import store as battery_store
from tests.servers import TEST_REDIS

PASSWORD = "correcto-caballo-bateria"
_counter = itertools.count(1)
_password_hash = hash_password(PASSWORD)


@pytest.fixture
def make_depot(db: Session) -> Callable[..., Depot]:
    def make(**kw: Any) -> Depot:
        n = next(_counter)
        values: dict[str, Any] = {
            "code": f"D{n:03d}",
            "name": f"Depósito {n}",
            "address": "Av. Insurgentes Sur 100, CDMX",
            "site_power_kw": Decimal("300"),
        }
        depot = Depot(**(values | kw))
        db.add(depot)
        db.flush()
        return depot

    return make


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(role: Role = Role.STAFF, **kw: Any) -> User:
        n = next(_counter)
        values: dict[str, Any] = {
            "full_name": f"Persona {n} Prueba",
            "role": role,
            "password_hash": _password_hash,
        }
        if role == Role.DRIVER:
            values["phone"] = f"55{n:08d}"
        else:
            values["email"] = f"persona{n}@lafa.mx"
        user = User(**(values | kw))
        db.add(user)
        db.flush()
        return user

    return make


@pytest.fixture
def make_driver(db: Session, make_user: Callable[..., User]) -> Callable[..., Driver]:
    def make(user: User | None = None, **kw: Any) -> Driver:
        import random

        user = user or make_user(Role.DRIVER)
        first = kw.pop("first_name", "Lucía")
        # A birth date per user keeps CURPs unique (the differentiator alone has 10 values).
        born = date(1990, 5, 17) + timedelta(days=user.id % 3000)
        curp = make_curp(first, "Hernández", "Ramírez", born, "M", "DF", random.Random(user.id))
        values: dict[str, Any] = {
            "user": user,
            "first_name": first,
            "last_name": "Hernández",
            "second_last_name": "Ramírez",
            "curp": curp,
            "phone": user.phone or "5512345678",
            "status": DriverStatus.ACTIVE,
        }
        driver = Driver(**(values | kw))
        db.add(driver)
        db.flush()
        return driver

    return make


@pytest.fixture
def make_vehicle(db: Session, make_depot: Callable[..., Depot]) -> Callable[..., Vehicle]:
    def make(**kw: Any) -> Vehicle:
        n = next(_counter)
        depot = kw.pop("depot", None) or make_depot()
        values: dict[str, Any] = {
            "vin": f"LGXCE4CB{n:09d}",
            "plate": f"TST-{n:03d}-A"[:10],
            "make": "BYD",
            "model": "Dolphin Mini",
            "year": 2025,
            "battery_kwh": Decimal("38.8"),
            "range_km": 380,
            "connector_type": ConnectorType.CCS2,
            "tracker_imei": luhn_complete(f"35{n:012d}"),
            "depot": depot,
            "status": VehicleStatus.AVAILABLE,
        }
        vehicle = Vehicle(**(values | kw))
        db.add(vehicle)
        db.flush()
        return vehicle

    return make


@pytest.fixture
def make_contract(
    db: Session, make_driver: Callable[..., Driver], make_vehicle: Callable[..., Vehicle]
) -> Callable[..., Contract]:
    def make(**kw: Any) -> Contract:
        n = next(_counter)
        driver = kw.pop("driver", None) or make_driver()
        vehicle = kw.pop("vehicle", None) or make_vehicle(status=VehicleStatus.LEASED)
        values: dict[str, Any] = {
            "number": f"LAFA-T-{n:05d}",
            "driver": driver,
            "vehicle": vehicle,
            "weekly_rent_cents": 350_000,
            "deposit_cents": 700_000,
            "late_fee_cents": 25_000,
            "term_weeks": 156,
            "starts_on": date.today() - timedelta(weeks=10),
            "status": ContractStatus.ACTIVE,
        }
        contract = Contract(**(values | kw))
        db.add(contract)
        db.flush()
        return contract

    return make


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], FlaskClient]:
    def do_login(user: User, password: str = PASSWORD) -> FlaskClient:
        response = client.post(
            "/entrar", data={"identifier": user.email or user.phone, "password": password}
        )
        assert response.status_code == 303, response.text
        return client

    return do_login


@pytest.fixture
def make_charge(db: Session) -> Callable[..., Any]:
    """Post a charge (rent by default) to a driver's ledger."""
    from portal.models import EntryKind
    from portal.services.ledger import post_entry

    def make(driver: Driver, cents: int = 350_000, **kw: Any) -> Any:
        n = next(_counter)
        values: dict[str, Any] = {
            "driver_id": driver.id,
            "kind": EntryKind.RENT,
            "amount_cents": cents,
            "idempotency_key": f"test-charge:{n}",
            "description": "Renta semanal",
        }
        return post_entry(db, **(values | kw))

    return make


@pytest.fixture
def make_incident(db: Session, make_contract: Callable[..., Contract]) -> Callable[..., Any]:
    """An incident reported by the driver of `contract` (a new one by default)."""
    from portal.db import utcnow
    from portal.models import EventKind, Incident, IncidentEvent, IncidentStatus, IncidentType

    def make(contract: Contract | None = None, **kw: Any) -> Incident:
        contract = contract or make_contract()
        now = utcnow()
        values: dict[str, Any] = {
            "type": IncidentType.ACCIDENT,
            "status": IncidentStatus.REPORTED,
            "occurred_at": now - timedelta(hours=2),
            "place": "Av. Insurgentes Sur y Eje 7, Benito Juárez",
            "description": "Un taxi me pegó en la defensa trasera en el semáforo.",
            "vehicle_id": contract.vehicle_id,
            "driver_id": contract.driver_id,
            "contract_id": contract.id,
            "reported_by_id": contract.driver.user_id,
        }
        incident = Incident(**(values | kw))
        db.add(incident)
        db.flush()
        db.add(
            IncidentEvent(
                incident=incident, author_id=incident.reported_by_id, kind=EventKind.REPORTED
            )
        )
        db.flush()
        return incident

    return make


@pytest.fixture
def incident_storage(app: Any, tmp_path: Any) -> Any:
    """The incident file store of this test: a fresh folder."""
    previous = app.config["INCIDENT_STORAGE"]
    app.config["INCIDENT_STORAGE"] = str(tmp_path / "incidents")
    yield tmp_path / "incidents"
    app.config["INCIDENT_STORAGE"] = previous


@pytest.fixture
def incident_url(
    db: Session,
    make_incident: Callable[..., Any],
    make_contract: Callable[..., Contract],
    incident_storage: Any,
) -> Callable[[User, str], str]:
    """A concrete path for an incident URL rule: the user's own incident if a driver."""
    from portal.models import EntryKind, IncidentAttachment, Role
    from portal.services import fleet, storage
    from portal.services.incidents import costs as incident_costs
    from tests import images

    def build(user: User, rule: str) -> str:
        contract = None
        if user.role == Role.DRIVER:
            contract = fleet.get_active_contract(db, user.driver.id)
            contract = contract or make_contract(driver=user.driver)
        incident = make_incident(contract=contract)
        photo = images.photo()
        attachment = IncidentAttachment(
            incident=incident,
            sha256=storage.put_blob(incident_storage, photo),
            content_type="image/jpeg",
            size_bytes=len(photo),
            original_name="foto.jpg",
            uploaded_by_id=incident.reported_by_id,
        )
        db.add(attachment)
        incident.report_sha256 = storage.put_blob(incident_storage, images.pdf())
        db.flush()
        entry = incident_costs.assign_liability(
            db,
            incident.id,
            kind=EntryKind.DAMAGE,
            amount_cents=10_000,
            reason="rayón en la puerta",
            sequence=1,
            actor_id=user.id,
        )
        return (
            rule.replace("<int:incident_id>", str(incident.id))
            .replace("<int:attachment_id>", str(attachment.id))
            .replace("<int:entry_id>", str(entry.id))
        )

    return build


# --- credit -----------------------------------------------------------------


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small SYNTHETIC scorecard model, trained once per run (a few seconds)."""
    from scoring.store import train_synthetic_model

    out = tmp_path_factory.mktemp("models") / "sintetico-test"
    train_synthetic_model(out, rows=1500, seed=3, kinds=("scorecard",), folds=3)
    return out


@pytest.fixture
def active_model(db: Session, synthetic_model_dir: Any) -> Any:
    from scoring.store import register_model

    return register_model(db, synthetic_model_dir, name="sintetico-test")


def earnings_json(
    days: int = 56, *, platform: str = "uber", amount: float = 1300.0, end: date | None = None
) -> bytes:
    """An aggregator export (JSON) of `days` days ending yesterday, with a profile."""
    import json

    end = end or date.today() - timedelta(days=1)
    rows = [
        {
            "earning_date": (end - timedelta(days=i)).isoformat(),
            "amount": round(amount * (0.6 if (end - timedelta(days=i)).weekday() == 6 else 1), 2),
            "cash_amount": round(amount * 0.2, 2),
            "count_trips": 14,
        }
        for i in range(days)
    ]
    return json.dumps(
        {
            "platform": platform,
            "profile": {
                "rating": 4.93,
                "acceptance_rate": 0.91,
                "cancellation_rate": 0.03,
                "lifetime_trips": 5200,
                "first_trip_date": (end - timedelta(days=900)).isoformat(),
                "debt_pending": 0,
                "debt_paid": 420,
            },
            "earnings": rows,
        }
    ).encode()


@pytest.fixture
def make_application(db: Session, make_user: Callable[..., User]) -> Callable[..., Any]:
    """A credit application with consent; `earnings=True` imports 8 weeks of Uber."""
    import random

    from portal.services.credit.applications import (
        ApplicantData,
        create_application,
        record_consent,
    )
    from portal.services.credit.earnings import import_earnings

    def make(*, consent: bool = True, earnings: bool = True, **kw: Any) -> Any:
        n = next(_counter)
        staff = kw.pop("staff", None) or make_user(Role.STAFF)
        born = date(1988, 3, 9) + timedelta(days=n)
        curp = make_curp("Mariana", "López", "Ortega", born, "M", "DF", random.Random(n))
        data = ApplicantData(
            first_name=kw.pop("first_name", "Mariana"),
            last_name="López",
            second_last_name="Ortega",
            curp=kw.pop("curp", curp),
            phone=f"55{n:08d}",
            requested_vehicle=kw.pop("requested_vehicle", "BYD Dolphin Mini"),
            rfc=kw.pop("rfc", None),
        )
        application = create_application(db, data, actor_id=staff.id, today=date.today(), **kw)
        if consent:
            record_consent(db, application, recorded_by_id=staff.id, ip="10.0.0.1")
        if earnings:
            import_earnings(
                db, application, earnings_json(), "uber.json", actor_id=staff.id, today=date.today()
            )
        return application

    return make


@pytest.fixture
def make_charger(db: Session, make_depot: Callable[..., Depot]) -> Callable[..., Charger]:
    """A registered charger with connectors `[(type, max kW), ...]` (evse 1, 2, ...),
    online by default (connected, heard from just now)."""

    def make(
        connectors: list[tuple[ConnectorType, str]] | None = None,
        online: bool = True,
        **kw: Any,
    ) -> Charger:
        n = next(_counter)
        depot = kw.pop("depot", None) or make_depot()
        values: dict[str, Any] = {
            "identity": f"LAFA-T{n:04d}",
            "name": f"Cargador {n}",
            "depot_id": depot.id,
            "registration": ChargerRegistration.ACCEPTED,
            "ocpp_version": OcppVersion.V16,
            "online": online,
            "last_seen_at": utcnow() if online else None,
            "status": ConnectorStatus.AVAILABLE,
        }
        charger = Charger(**(values | kw))
        db.add(charger)
        db.flush()
        for evse_id, (connector_type, max_kw) in enumerate(
            connectors or [(ConnectorType.CCS2, "60")], start=1
        ):
            db.add(
                ChargerConnector(
                    charger_id=charger.id,
                    evse_id=evse_id,
                    connector_type=connector_type,
                    max_kw=Decimal(max_kw),
                    status=ConnectorStatus.AVAILABLE,
                )
            )
        db.flush()
        db.refresh(charger)
        return charger

    return make


@pytest.fixture
def make_charging_session(db: Session) -> Callable[..., ChargingSession]:
    def make(charger: Charger, **kw: Any) -> ChargingSession:
        n = next(_counter)
        connector = charger.connectors[0]
        values: dict[str, Any] = {
            "charger_id": charger.id,
            "connector_id": connector.id,
            "evse_id": connector.evse_id,
            "transaction_id": str(n),
            "status": SessionStatus.ACTIVE,
            "started_at": utcnow(),
            "meter_start_wh": 1_000_000,
        }
        charging_session = ChargingSession(**(values | kw))
        db.add(charging_session)
        db.flush()
        return charging_session

    return make


@pytest.fixture
def charging_url(
    db: Session,
    make_charger: Callable[..., Charger],
    make_vehicle: Callable[..., Vehicle],
    make_driver: Callable[..., Driver],
) -> Callable[[User, str], str]:
    """A concrete path for a charging URL rule, with records of `user` when they are a
    driver (their own booking), else of some driver (for the access table)."""

    def path_for(user: User, rule: str) -> str:
        from datetime import UTC, datetime

        charger = make_charger()
        depot_id = charger.depot_id
        owner = user.driver if user.driver is not None else make_driver()
        vehicle = make_vehicle(depot=db.get(Depot, depot_id))
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
        booking = Booking(
            driver_id=owner.id,
            vehicle_id=vehicle.id,
            depot_id=depot_id,
            connector_type=ConnectorType.CCS2,
            charger_id=charger.id,
            connector_id=charger.connectors[0].id,
            window_start=start,
            window_end=start + timedelta(hours=1),
        )
        db.add(booking)
        db.flush()
        charging_session = ChargingSession(
            charger_id=charger.id,
            connector_id=charger.connectors[0].id,
            evse_id=1,
            transaction_id=str(next(_counter)),
            driver_id=owner.id,
            started_at=start - timedelta(hours=1),
            meter_start_wh=0,
        )
        db.add(charging_session)
        db.flush()
        command = ChargerCommand(
            charger_id=charger.id,
            action=CommandAction.UNLOCK_CONNECTOR,
            params={"evse_id": 1},
            requested_by_id=user.id,
        )
        id_tag = IdTag(tag=f"T{next(_counter)}", driver_id=owner.id)
        db.add_all([command, id_tag])
        db.flush()
        values = {
            "<int:command_id>": str(command.id),
            "<int:tag_id>": str(id_tag.id),
            "<any(desactivar, activar):change>": "desactivar",
            "<any(aprobar, rechazar):decision>": "aprobar",
            "<int:session_id>": str(charging_session.id),
            "<int:booking_id>": str(booking.id),
            "<int:charger_id>": str(charger.id),
        }
        path = rule
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)
        if rule.endswith("/comando"):
            path += "?action=unlock_connector&evse_id=1"
        if rule.endswith("/reservar"):
            path += f"?depot={depot_id}&start={start.isoformat().replace('+', '%2B')}"
        return path

    return path_for


@pytest.fixture
def staff_driver_url(make_contract: Callable[..., Contract]) -> Callable[[User, str], str]:
    """A concrete path for a staff page about one driver: some driver with a contract
    (a driver asking gets their own, and a 403)."""

    def build(user: User, rule: str) -> str:
        driver = user.driver or make_contract().driver
        if user.driver is not None:
            make_contract(driver=driver)
        return rule.replace("<int:driver_id>", str(driver.id))

    return build


@pytest.fixture
def credit_url(make_application: Callable[..., Any]) -> Callable[[User, str], str]:
    """A concrete path for a credit application URL rule (staff see every application)."""

    def build(user: User, rule: str) -> str:
        return rule.replace("<int:application_id>", str(make_application().id))

    return build


@pytest.fixture
def jobs_to_redis() -> Iterator[None]:
    """Queued jobs wait in Redis (emptied before and after) instead of running in a
    thread beside the test, which would share the test's connection."""
    from redis import Redis

    from workers import queues

    connection = Redis.from_url(TEST_REDIS)
    connection.flushdb()
    queues.configure(TEST_REDIS)
    yield
    connection.flushdb()
    queues.configure("")


BATTERY_AS_OF = datetime(2026, 6, 28, 9, 30, tzinfo=UTC)
BATTERY_TREND = (
    ("2026-01", 100.0, 22),
    ("2026-02", 99.6, 20),
    ("2026-03", 99.0, 24),
    ("2026-04", 98.2, 23),
    ("2026-05", 97.5, 25),
    ("2026-06", 96.6, 17),
)


def _battery_estimate(vehicle: Vehicle, **kw: Any) -> VehicleEstimate:
    """What the estimator says of a car: 96.4 % (95.1-97.3), fading 2.1 % a year
    (1.6-2.6), from 131 of 140 sessions over six months, unless told otherwise."""
    values: dict[str, Any] = {
        "vehicle_id": str(vehicle.id),
        "model": f"{vehicle.make} {vehicle.model}",
        "nominal_kwh": float(vehicle.battery_kwh),
        "sessions_total": 140,
        "sessions_used": 131,
        "as_of": BATTERY_AS_OF,
        "soh_percent": 96.4,
        "soh_low": 95.1,
        "soh_high": 97.3,
        "capacity_kwh": 37.4,
        "fade_percent_per_year": 2.1,
        "fade_low": 1.6,
        "fade_high": 2.6,
        "fade_percent_per_10000_km": 0.45,
        "efficiency": {"AC": 0.88, "DC": 0.94},
        "dc_share": 0.12,
        "trend": tuple(MonthPoint(m, soh, n) for m, soh, n in BATTERY_TREND),
    }
    return VehicleEstimate(**(values | kw))


@pytest.fixture
def store_estimates(db: Session) -> Callable[[dict[Vehicle, dict[str, Any]]], int]:
    """Store the fleet's battery estimates through the service, as the nightly job does:
    `store({car: {"soh_percent": 83.0}, other: {}})` replaces every stored estimate
    with these cars', each the default one (`_battery_estimate`) with its changes."""

    def store(cars: dict[Vehicle, dict[str, Any]]) -> int:
        estimates = [_battery_estimate(car, **changes) for car, changes in cars.items()]
        fleet = FleetEstimate({e.vehicle_id: e for e in estimates}, None, None, None)
        stored = battery_store.store_battery_estimates(db, fleet)
        db.expire_all()
        return stored

    return store


@pytest.fixture
def contract_storage(app: Any, tmp_path: Any) -> Any:
    """The contract file store (PDFs, checklist photos) of this test: a fresh folder."""
    previous = app.config["CONTRACT_STORAGE"]
    app.config["CONTRACT_STORAGE"] = str(tmp_path / "contracts")
    yield tmp_path / "contracts"
    app.config["CONTRACT_STORAGE"] = previous


@pytest.fixture
def make_documented_contract(
    db: Session, make_contract: Callable[..., Contract], contract_storage: Any
) -> Callable[..., Contract]:
    """A contract with its summary PDF stored and a handover checklist with a photo."""
    from portal.models import ChecklistKind, ContractChecklist
    from portal.services import storage
    from tests import images

    def make(**kw: Any) -> Contract:
        contract = make_contract(**kw)
        contract.summary_pdf_sha256 = storage.put_blob(contract_storage, images.pdf())
        shade = next(_counter) % 250
        photo = storage.put_blob(contract_storage, images.photo(color=(shade, 90, 90)))
        db.add(
            ContractChecklist(
                contract=contract,
                vehicle_id=contract.vehicle_id,
                kind=ChecklistKind.HANDOVER,
                odometer_km=10,
                soc_pct=90,
                photos=[{"sha256": photo, "content_type": "image/jpeg", "size": 1}],
                recorded_by_id=contract.driver.user_id,
            )
        )
        db.flush()
        db.refresh(contract)
        return contract

    return make


@pytest.fixture
def records_url(
    db: Session,
    make_user: Callable[..., User],
    make_depot: Callable[..., Depot],
    make_vehicle: Callable[..., Vehicle],
    make_driver: Callable[..., Driver],
    make_application: Callable[..., Any],
    make_documented_contract: Callable[..., Contract],
    jobs_to_redis: None,
) -> Callable[[User, str], str]:
    """A concrete path for a URL of the operator's records (users, depots, vehicles,
    drivers, contracts): a driver's own contract for the driver's pages, else someone
    else's records."""

    def build(user: User, rule: str) -> str:
        if rule.startswith("/conductor/"):
            owner = user.driver or make_driver()
            contract = make_documented_contract(driver=owner)
        else:
            contract = make_documented_contract()
        photo = contract.checklists[0].photos[0]["sha256"]
        values = {
            "<int:user_id>": str(make_user(Role.STAFF).id),
            "<any(desactivar, reactivar, desbloquear):change>": "desbloquear",
            "<int:depot_id>": str(make_depot().id),
            "<int:vehicle_id>": str(make_vehicle().id),
            "<int:driver_id>": str(make_driver().id),
            "<any(suspender, reactivar):change>": "reactivar",
            "<int:application_id>": str(make_application(earnings=False).id),
            "<int:contract_id>": str(contract.id),
            "<any(cancelar, suspender, reanudar, completar, devolver):step>": "reanudar",
            "<any(contrato, carta):kind>": "contrato",
            "<sha256>": photo,
        }
        path = rule
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)
        if rule.endswith("/contratos/nuevo"):
            path += f"?driver={contract.driver_id}"
        return path

    return build
