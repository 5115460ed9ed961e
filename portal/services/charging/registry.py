"""The charger registry as admins keep it: chargers (registered, approved or rejected,
their OCPP password), drivers' id tags, and bulk imports of both from CSV.

CSV imports are all or nothing: every line is checked first, and if any line is bad
nothing is written and every bad line is reported (line number, what is wrong), so a
file can be fixed and run again without leaving half a depot registered.

Chargers (`flask chargers import FILE`), a header then one charger per line:

    identity,name,depot,ocpp_version,password,connectors
    LAFA-VAL-06,Vallejo 6,VAL,1.6,,CCS2:60;GBT:60

`depot` is the depot's code; `ocpp_version` is 1.6 or 2.0.1 (or empty); `connectors`
lists `TYPE:kW` per EVSE, numbered 1, 2, ... in that order (TYPE: CCS2 or GBT/GB/T).
`password` empty: the registry generates one (`ImportResult.passwords`, shown once);
given (16 to 40 characters): a charger already installed keeps the one it has.

Id tags (`flask tags import FILE`): `tag,driver` where tag is as the card sends it
(1 to 20 characters) and driver is the driver's 10-digit mobile number or their CURP.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.models import (
    Charger,
    ChargerConnector,
    ChargerRegistration,
    ChargingSession,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    Driver,
    IdTag,
    OcppVersion,
    SessionStatus,
)
from portal.passwords import hash_machine_secret, new_machine_secret
from portal.services import N_, DomainError, audit
from portal.services.identifiers import normalize_phone

IDENTITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,47}$")
"""Charger identities: a URL path segment without escapes, at most 48 characters."""

MIN_CHARGER_PASSWORD = 16  # OCPP 1.6 security whitepaper: AuthorizationKey 16-40 bytes
MAX_CHARGER_PASSWORD = 40


def valid_identity(identity: str) -> bool:
    return bool(IDENTITY_RE.match(identity))


def register_charger(
    session: Session,
    *,
    identity: str,
    depot_id: int | None,
    connectors: list[tuple[int, ConnectorType, Decimal | None]],
    secret_key: str,
    name: str | None = None,
    max_kw: Decimal | None = None,
    password: str | None = None,
    actor_id: int | None = None,
) -> tuple[Charger, str]:
    """Register a charger (accepted) with its connectors `(evse_id, type, max kW)`.

    Returns the charger and its HTTP Basic password: a new random secret, shown once
    (only its keyed hash is stored), unless `password` gives the one a charger in the
    field already has (a CSV import of an installed depot).
    """
    identity = identity.strip()
    if not valid_identity(identity):
        raise DomainError(
            N_("The identity may only have letters, digits, dots, dashes and colons.")
        )
    if session.scalar(select(Charger.id).where(Charger.identity == identity)) is not None:
        raise DomainError(
            N_("A charger with identity %(identity)s already exists."), identity=identity
        )
    if password is None:
        password = new_machine_secret()
    _check_password(password)
    charger = Charger(
        identity=identity,
        name=name,
        depot_id=depot_id,
        registration=ChargerRegistration.ACCEPTED,
        password_hash=hash_machine_secret(secret_key, identity, password),
        max_kw=max_kw,
    )
    session.add(charger)
    session.flush()
    for evse_id, connector_type, kw in connectors:
        session.add(
            ChargerConnector(
                charger_id=charger.id, evse_id=evse_id, connector_type=connector_type, max_kw=kw
            )
        )
    session.flush()
    if actor_id is not None:
        audit.record(session, actor_id, "charger.registered", charger, identity=identity)
    return charger, password


def _check_password(password: str) -> None:
    if not MIN_CHARGER_PASSWORD <= len(password) <= MAX_CHARGER_PASSWORD:
        raise DomainError(
            N_("The charger password must have between %(min)s and %(max)s characters."),
            min=MIN_CHARGER_PASSWORD,
            max=MAX_CHARGER_PASSWORD,
        )


def approve_charger(
    session: Session, charger_id: int, *, depot_id: int | None, actor_id: int | None
) -> Charger:
    """Accept a charger waiting for approval (or refused before); it is answered
    Accepted at its next BootNotification, on the connection it already has.

    `depot_id` places it (needed when it has no depot yet: chargers that registered
    themselves). `actor_id` None: an operator at the console (`flask chargers approve`).
    """
    charger = existing_charger(session, charger_id)
    if depot_id is None and charger.depot_id is None:
        raise DomainError(N_("Choose the charger's depot."))
    if depot_id is not None and session.get(Depot, depot_id) is None:
        raise DomainError(N_("Choose the charger's depot."))
    charger.registration = ChargerRegistration.ACCEPTED
    charger.depot_id = depot_id or charger.depot_id
    session.flush()
    audit.record(session, actor_id, "charger.approved", charger, depot_id=charger.depot_id)
    return charger


def reject_charger(session: Session, charger_id: int, *, actor_id: int | None) -> Charger:
    """Refuse a charger: its handshakes are refused from now on (403)."""
    charger = existing_charger(session, charger_id)
    charger.registration = ChargerRegistration.REJECTED
    session.flush()
    audit.record(session, actor_id, "charger.rejected", charger)
    return charger


def rotate_charger_password(
    session: Session, charger_id: int, *, secret_key: str, actor_id: int | None
) -> str:
    """Give the charger a new random password (returned once); the old one stops working."""
    charger = existing_charger(session, charger_id)
    password = new_machine_secret()
    charger.password_hash = hash_machine_secret(secret_key, charger.identity, password)
    session.flush()
    audit.record(session, actor_id, "charger.password_changed", charger)
    return password


def allow_plain_connection(
    session: Session, charger_id: int, allowed: bool, *, actor_id: int | None
) -> Charger:
    """In production, let this charger use HTTP Basic without TLS (security profile 1)."""
    charger = existing_charger(session, charger_id)
    if charger.plain_allowed != allowed:
        charger.plain_allowed = allowed
        session.flush()
        audit.record(session, actor_id, "charger.plain_allowed", charger, allowed=allowed)
    return charger


def find_charger(session: Session, key: str) -> Charger | None:
    """A charger by its number or its OCPP identity (what an operator types)."""
    key = key.strip()
    charger = session.scalar(select(Charger).where(Charger.identity == key))
    if charger is None and key.isdigit():
        charger = session.get(Charger, int(key))
    return charger


def existing_charger(session: Session, charger_id: int) -> Charger:
    charger = session.get(Charger, charger_id)
    if charger is None:
        raise DomainError(N_("That charger does not exist."))
    return charger


def list_chargers(session: Session, depot_id: int | None = None) -> list[Charger]:
    query = select(Charger).order_by(Charger.identity)
    if depot_id is not None:
        query = query.where(Charger.depot_id == depot_id)
    return list(session.scalars(query))


def active_sessions(session: Session, charger_id: int) -> list[ChargingSession]:
    return list(
        session.scalars(
            select(ChargingSession)
            .where(
                ChargingSession.charger_id == charger_id,
                ChargingSession.status == SessionStatus.ACTIVE,
            )
            .order_by(ChargingSession.started_at)
        )
    )


@dataclass(frozen=True)
class TagOwner:
    """Who an id tag belongs to, and the vehicle of their active contract (if any)."""

    id_tag_id: int
    active: bool
    driver_id: int
    vehicle_id: int | None
    contract_id: int | None


ID_TAG_MAX = 20  # OCPP 1.6 idTag (CiString20); 2.0.1 allows 36, our cards work on both


def clean_id_tag(tag: str) -> str:
    """An id tag as the card sends it: 1 to 20 printable characters (OCPP's only rule),
    without the spaces a form or a file may add around it."""
    tag = tag.strip()
    if not 1 <= len(tag) <= ID_TAG_MAX or not tag.isprintable():
        raise DomainError(
            N_("An id tag has 1 to %(max)s characters, as the card sends it."), max=ID_TAG_MAX
        )
    return tag


def add_id_tag(session: Session, driver_id: int, tag: str, *, actor_id: int | None = None) -> IdTag:
    tag = clean_id_tag(tag)
    if session.scalar(select(IdTag.id).where(func.upper(IdTag.tag) == tag.upper())) is not None:
        raise DomainError(N_("That id tag is already in use."))
    if session.get(Driver, driver_id) is None:
        raise DomainError(N_("That driver does not exist."))
    id_tag = IdTag(tag=tag, driver_id=driver_id, active=True)
    session.add(id_tag)
    session.flush()
    if actor_id is not None:
        audit.record(session, actor_id, "id_tag.added", id_tag, driver_id=driver_id)
    return id_tag


def resolve_id_tag(session: Session, tag: str) -> TagOwner | None:
    """The owner of `tag` (compared without regard to case, as OCPP does) and their
    active contract's vehicle; None for an unknown tag."""
    return resolve_id_tags(session, [tag]).get(tag.strip().upper())


def resolve_id_tags(session: Session, tags: list[str]) -> dict[str, TagOwner]:
    """`resolve_id_tag` for many tags in one query, keyed by the upper-cased tag."""
    rows = session.execute(
        select(
            func.upper(IdTag.tag),
            IdTag.id,
            IdTag.active,
            IdTag.driver_id,
            Contract.vehicle_id,
            Contract.id,
        )
        .outerjoin(
            Contract,
            (Contract.driver_id == IdTag.driver_id) & (Contract.status == ContractStatus.ACTIVE),
        )
        .where(func.upper(IdTag.tag).in_({t.strip().upper() for t in tags}))
    )
    return {
        key: TagOwner(
            id_tag_id=tag_id,
            active=active,
            driver_id=driver_id,
            vehicle_id=vehicle_id,
            contract_id=contract_id,
        )
        for key, tag_id, active, driver_id, vehicle_id, contract_id in rows
    }


# --- imports from CSV ------------------------------------------------------------------

CHARGER_COLUMNS = ("identity", "name", "depot", "ocpp_version", "password", "connectors")
TAG_COLUMNS = ("tag", "driver")
MAX_CONNECTORS = 8
MAX_CONNECTOR_KW = Decimal("1000")
VERSIONS = {"1.6": OcppVersion.V16, "ocpp1.6": OcppVersion.V16, "2.0.1": OcppVersion.V201}
VERSIONS["ocpp2.0.1"] = OcppVersion.V201


@dataclass
class ImportResult:
    """What an import did: the lines written, or the bad lines (and then nothing written)."""

    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    passwords: list[tuple[str, str]] = field(default_factory=list)  # generated: (identity, pw)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_connectors(spec: str) -> list[tuple[int, ConnectorType, Decimal | None]]:
    """`CCS2:60;GBT:60` -> [(1, CCS2, 60), (2, GBT, 60)]; raises DomainError."""
    connectors = []
    parts = [p.strip() for p in spec.replace(",", ";").split(";") if p.strip()]
    if not parts:
        raise DomainError(N_("Give at least one connector."))
    if len(parts) > MAX_CONNECTORS:
        raise DomainError(N_("At most %(count)s connectors."), count=MAX_CONNECTORS)
    for evse_id, part in enumerate(parts, start=1):
        kind, _, kw = part.partition(":")
        connectors.append((evse_id, parse_connector_type(kind), parse_kw(kw)))
    return connectors


def parse_connector_type(raw: str) -> ConnectorType:
    value = raw.strip().upper().replace("/", "")
    try:
        return ConnectorType(value)
    except ValueError:
        raise DomainError(N_("The connector type must be CCS2 or GB/T.")) from None


def parse_kw(raw: str | Decimal | None) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        kw = Decimal(str(raw).strip())
    except InvalidOperation:
        raise DomainError(N_("The power must be a number of kW.")) from None
    if not Decimal(0) < kw <= MAX_CONNECTOR_KW:
        raise DomainError(N_("The power must be between 0 and %(max)s kW."), max=MAX_CONNECTOR_KW)
    return kw.quantize(Decimal("0.1"))


def _rows(text: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in columns if c not in header]
    if missing:
        raise DomainError(
            N_("The file's header lacks these columns: %(columns)s."), columns=", ".join(missing)
        )
    reader.fieldnames = header
    return [
        (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


def _message(error: DomainError) -> str:
    return error.message % error.params if error.params else error.message


def import_chargers(
    session: Session, text: str, *, secret_key: str, actor_id: int | None = None
) -> ImportResult:
    """Register every charger of the CSV, or none if any line is bad (see module doc)."""
    result = ImportResult()
    depots = {d.code.upper(): d.id for d in session.scalars(select(Depot))}
    existing = set(session.scalars(select(Charger.identity)))
    seen: set[str] = set()
    planned = []
    for line, row in _rows(text, CHARGER_COLUMNS):
        try:
            identity = row["identity"]
            if not valid_identity(identity):
                raise DomainError(
                    N_("The identity may only have letters, digits, dots, dashes and colons.")
                )
            if identity in existing or identity in seen:
                raise DomainError(
                    N_("A charger with identity %(identity)s already exists."), identity=identity
                )
            depot_id = depots.get(row["depot"].upper())
            if depot_id is None:
                raise DomainError(N_("There is no depot with code %(code)s."), code=row["depot"])
            version = None
            if row["ocpp_version"]:
                version = VERSIONS.get(row["ocpp_version"].lower())
                if version is None:
                    raise DomainError(N_("The OCPP version must be 1.6 or 2.0.1."))
            if row["password"] and not (
                MIN_CHARGER_PASSWORD <= len(row["password"]) <= MAX_CHARGER_PASSWORD
            ):
                raise DomainError(
                    N_("The charger password must have between %(min)s and %(max)s characters."),
                    min=MIN_CHARGER_PASSWORD,
                    max=MAX_CHARGER_PASSWORD,
                )
            connectors = parse_connectors(row["connectors"])
        except DomainError as error:
            result.errors.append((line, _message(error)))
            continue
        seen.add(identity)
        planned.append((identity, row["name"] or None, depot_id, version, row, connectors))
    if result.errors:
        return result
    for identity, name, depot_id, version, row, connectors in planned:
        charger, password = register_charger(
            session,
            identity=identity,
            password=row["password"] or None,
            depot_id=depot_id,
            connectors=connectors,
            secret_key=secret_key,
            name=name,
            actor_id=actor_id,
        )
        charger.ocpp_version = version
        if not row["password"]:
            result.passwords.append((identity, password))
        result.imported += 1
    session.flush()
    return result


def find_driver(session: Session, key: str) -> Driver | None:
    """A driver by 10-digit mobile number (any common spelling) or CURP."""
    key = key.strip()
    phone = normalize_phone(key)
    conditions = [Driver.curp == key.upper()]
    if phone:
        conditions.append(Driver.phone == phone)
    return session.scalar(select(Driver).where(or_(*conditions)).order_by(Driver.id).limit(1))


def import_tags(session: Session, text: str, *, actor_id: int | None = None) -> ImportResult:
    """Give each driver of the CSV their tag, or nothing if any line is bad."""
    result = ImportResult()
    existing = {t.upper() for t in session.scalars(select(IdTag.tag))}
    seen: set[str] = set()
    planned = []
    for line, row in _rows(text, TAG_COLUMNS):
        try:
            tag = clean_id_tag(row["tag"])
            if tag.upper() in existing or tag.upper() in seen:
                raise DomainError(N_("That id tag is already in use."))
            driver = find_driver(session, row["driver"])
            if driver is None:
                raise DomainError(
                    N_("No driver has the mobile number or CURP %(key)s."), key=row["driver"]
                )
        except DomainError as error:
            result.errors.append((line, _message(error)))
            continue
        seen.add(tag.upper())
        planned.append((driver.id, tag))
    if result.errors:
        return result
    for driver_id, tag in planned:
        add_id_tag(session, driver_id, tag, actor_id=actor_id)
        result.imported += 1
    return result


def list_tags(session: Session, query: str = "", limit: int = 50) -> list[IdTag]:
    """Id tags, newest first; `query` matches the tag, or the driver's name or phone."""
    statement = select(IdTag).options(joinedload(IdTag.driver)).join(Driver)
    query = query.strip()
    if query:
        like = f"%{query}%"
        statement = statement.where(
            or_(
                IdTag.tag.ilike(like),
                Driver.phone.ilike(like),
                (Driver.first_name + " " + Driver.last_name).ilike(like),
            )
        )
    return list(session.scalars(statement.order_by(IdTag.id.desc()).limit(limit)))


def set_tag_active(session: Session, tag_id: int, active: bool, *, actor_id: int) -> IdTag:
    """Deactivate (a lost card) or reactivate an id tag; the charger then answers Blocked."""
    id_tag = session.get(IdTag, tag_id)
    if id_tag is None:
        raise DomainError(N_("That id tag does not exist."))
    if id_tag.active != active:
        id_tag.active = active
        session.flush()
        audit.record(
            session, actor_id, "id_tag.activated" if active else "id_tag.deactivated", id_tag
        )
    return id_tag


def list_registry(session: Session) -> list[Charger]:
    return list(
        session.scalars(
            select(Charger)
            .options(joinedload(Charger.depot), joinedload(Charger.connectors))
            .order_by(Charger.depot_id, Charger.identity)
        ).unique()
    )
