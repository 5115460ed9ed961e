"""The checklists: the handover (staff record it on the tablet, started from the car's
telemetry; the driver confirms it on their phone and the contract becomes active) and
what the return checklist shares with it (the reading, the photos).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import ChecklistKind, Contract, ContractChecklist, IdTag, User, VehicleState
from portal.services import N_, DomainError, FieldError, NotAllowed, audit, billing, storage
from portal.services.charging.registry import add_id_tag
from portal.services.contracts.rules import CS, expect_status
from portal.services.uploads import CleanFile

MAX_PHOTOS = 8


@dataclass(frozen=True, slots=True)
class ChecklistData:
    odometer_km: int
    soc_pct: int
    damage_notes: str = ""
    charging_card: str = ""
    damage_cents: int = 0
    photos: Sequence[CleanFile] = ()


@dataclass(frozen=True, slots=True)
class HandoverDefaults:
    """What the car's tracker last said: the checklist starts from it."""

    odometer_km: int | None
    soc_pct: int | None
    reported_at: datetime | None


def handover_defaults(session: Session, vehicle_id: int) -> HandoverDefaults:
    state = session.get(VehicleState, vehicle_id)
    if state is None:
        return HandoverDefaults(None, None, None)
    odometer = state.odometer_m // 1000 if state.odometer_m is not None else None
    soc = round(state.soc_pct) if state.soc_pct is not None else None
    return HandoverDefaults(odometer, soc, state.device_time)


def open_handover(contract: Contract) -> ContractChecklist | None:
    """The handover checklist waiting for the driver's confirmation."""
    return next(
        (
            c
            for c in reversed(contract.checklists)
            if c.kind == ChecklistKind.HANDOVER and c.confirmed_at is None
        ),
        None,
    )


def store_photos(files: Sequence[CleanFile], root: str | Path) -> list[dict[str, object]]:
    if len(files) > MAX_PHOTOS:
        raise FieldError("photos", N_("At most %(max)d photos."), max=MAX_PHOTOS)
    photos: list[dict[str, object]] = []
    for f in files:
        if not f.content_type.startswith("image/"):
            raise FieldError("photos", N_("The checklist takes photos (JPEG, PNG or WebP)."))
        sha256 = storage.put_blob(root, f.data)
        if any(p["sha256"] == sha256 for p in photos):
            continue
        photos.append(
            {
                "sha256": sha256,
                "content_type": f.content_type,
                "size": len(f.data),
                "width": f.width,
                "height": f.height,
                "name": f.original_name,
            }
        )
    return photos


def check_reading(data: ChecklistData) -> None:
    if not 0 <= data.odometer_km <= 2_000_000:
        raise FieldError("odometer_km", N_("Write the odometer in km."))
    if not 0 <= data.soc_pct <= 100:
        raise FieldError("soc_pct", N_("The charge is a percentage, 0 to 100."))


def record_handover(
    session: Session,
    contract: Contract,
    data: ChecklistData,
    *,
    actor_id: int,
    storage_root: str | Path,
    ip: str | None = None,
) -> ContractChecklist:
    """Staff's checklist as the car leaves: odometer, charge, photos, damage notes and
    the charging card given to the driver. The driver confirms it on their phone."""
    expect_status(contract, CS.SIGNED)
    check_reading(data)
    card = data.charging_card.strip().upper()
    if card:
        owner = session.scalar(select(IdTag).where(IdTag.tag == card))
        if owner is None:
            add_id_tag(session, contract.driver_id, card, actor_id=actor_id)
        elif owner.driver_id != contract.driver_id:
            raise FieldError("charging_card", N_("That charging card belongs to another driver."))
    previous = open_handover(contract)
    if previous is not None:  # staff corrected the checklist before the driver confirmed
        session.delete(previous)
        session.flush()
    checklist = ContractChecklist(
        contract=contract,
        vehicle_id=contract.vehicle_id,
        kind=ChecklistKind.HANDOVER,
        odometer_km=data.odometer_km,
        soc_pct=data.soc_pct,
        damage_notes=data.damage_notes.strip() or None,
        charging_card=card or None,
        photos=store_photos(data.photos, storage_root),
        recorded_by_id=actor_id,
    )
    session.add(checklist)
    session.flush()
    audit.record(
        session,
        actor_id,
        "contract.handover_recorded",
        contract,
        ip=ip,
        checklist_id=checklist.id,
        odometer_km=data.odometer_km,
        soc_pct=data.soc_pct,
        photos=len(checklist.photos),
        charging_card=card or None,
    )
    return checklist


def confirm_handover(
    session: Session,
    contract: Contract,
    *,
    driver_user: User,
    today: date,
    now: datetime | None = None,
    ip: str | None = None,
) -> None:
    """The driver confirms on their phone that they received the car as recorded: the
    contract becomes active and rent is charged from its start."""
    if driver_user.driver is None or driver_user.driver.id != contract.driver_id:
        raise NotAllowed(N_("Only the contract's driver confirms the handover."))
    expect_status(contract, CS.SIGNED)
    checklist = open_handover(contract)
    if checklist is None:
        raise DomainError(N_("Staff have not recorded the handover yet."))
    now = now or utcnow()
    checklist.confirmed_at = now
    contract.status = CS.ACTIVE
    contract.activated_at = now
    session.flush()
    billing.post_rent_to_date(session, contract, today, now=now)
    audit.record(
        session,
        driver_user.id,
        "contract.handover_confirmed",
        contract,
        ip=ip,
        checklist_id=checklist.id,
    )
