"""Demo incidents: a handful in every state of the workflow, with photos and timelines.

Called by `portal.demo.seed.seed_demo`. Deterministic (the photos are drawn with Pillow
from fixed shapes and colours, so their checksums never change) and idempotent: an
incident already seeded for a driver (same description) is not seeded again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.config import incident_storage
from portal.db import utcnow
from portal.models import (
    Contract,
    ContractStatus,
    EntryKind,
    Incident,
    IncidentStatus,
    IncidentType,
    PositionSource,
    User,
)
from portal.services.incidents import claims as incident_claims
from portal.services.incidents import costs as incident_costs
from portal.services.incidents import report as incident_report
from portal.services.uploads import CleanFile, clean_upload

S = IncidentStatus


@dataclass(frozen=True)
class DemoIncident:
    type: IncidentType
    days_ago: float
    place: str
    description: str
    path: tuple[IncidentStatus, ...] = ()
    photos: tuple[tuple[int, int, int], ...] = ()
    insurance: dict[str, Any] = field(default_factory=dict)
    comment: str = ""
    note: str = ""
    position: tuple[str, str] | None = None
    deductible_charged: bool = False


DEMO = [
    DemoIncident(
        IncidentType.ACCIDENT,
        0.1,
        "Av. Insurgentes Sur esq. Félix Cuevas, Del Valle",
        "Un auto me pegó en la defensa trasera al frenar en el semáforo. Nadie lesionado.",
        photos=((178, 34, 34), (70, 70, 70)),
        position=("19.372480", "-99.178610"),
    ),
    DemoIncident(
        IncidentType.DAMAGE,
        2,
        "Estacionamiento de Plaza Oriente, Iztapalapa",
        "Encontré el espejo lateral izquierdo roto al regresar al auto.",
        path=(S.IN_REVIEW,),
        photos=((30, 90, 160),),
        comment="El conductor trae el espejo al depósito el jueves.",
    ),
    DemoIncident(
        IncidentType.ACCIDENT,
        6,
        "Calz. de Tlalpan a la altura de Metro Portales",
        "Choque lateral con una camioneta de reparto al cambiar de carril. Vino el ajustador.",
        path=(S.IN_REVIEW, S.CLAIM_FILED),
        photos=((200, 120, 20), (90, 90, 90)),
        insurance={
            "insurer": "Qualitas",
            "insurer_report_number": "R-2611-48213",
            "claim_number": "04-2611-0098734",
            "adjuster": "Ing. Martín Ochoa, 55 4821 7730",
        },
    ),
    DemoIncident(
        IncidentType.ACCIDENT,
        12,
        "Eje 3 Oriente y Av. Ermita Iztapalapa",
        "Me impactaron por detrás en el alto. Salpicadera y cajuela dañadas.",
        path=(S.IN_REVIEW, S.CLAIM_FILED, S.IN_REPAIR),
        photos=((20, 120, 80), (120, 20, 80)),
        insurance={
            "insurer": "GNP Seguros",
            "claim_number": "GNP-7741-2026",
            "adjuster": "Lic. Paola Reyes, 55 1290 3344",
            "workshop": "Taller Carrocerías del Sur, Coyoacán",
            "deductible_cents": 500_000,
            "deductible_payer": "driver",
            "repair_cost_cents": 2_365_000,
        },
        deductible_charged=True,
    ),
    DemoIncident(
        IncidentType.BREAKDOWN,
        20,
        "Periférico Norte, salida a Satélite",
        "El auto marcó falla de sistema de carga y no avanzó. Se pidió grúa.",
        path=(S.IN_REVIEW, S.CLOSED),
        note="Se cambió el módulo de carga en garantía; sin costo.",
    ),
    DemoIncident(
        IncidentType.FINE,
        9,
        "Av. Chapultepec, cámara de fotocívica",
        "Me llegó una fotomulta por exceso de velocidad.",
        path=(S.REJECTED,),
        note="La multa es de otro auto: la placa de la foto no coincide.",
        insurance={"police_folio": "FC-09-2026-331204"},
    ),
]


def demo_photo(color: tuple[int, int, int], seed: int) -> bytes:
    """A recognisable picture of a car with a dent, always the same bytes for a seed."""
    image = Image.new("RGB", (960, 720), (186, 206, 226))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 470, 960, 720), fill=(92, 92, 96))  # the road
    for x in range(0, 960, 160):
        draw.rectangle((x + 40, 590, x + 120, 600), fill=(235, 235, 220))
    draw.rounded_rectangle((170, 300, 790, 500), radius=40, fill=color)  # the body
    draw.rounded_rectangle((300, 210, 640, 320), radius=30, fill=color)  # the cabin
    draw.rectangle((330, 230, 610, 300), fill=(210, 230, 240))  # the windows
    for x in (300, 660):
        draw.ellipse((x - 55, 445, x + 55, 555), fill=(25, 25, 25))
        draw.ellipse((x - 22, 478, x + 22, 522), fill=(160, 160, 160))
    dent_x = 220 + (seed * 97) % 480
    draw.ellipse((dent_x, 360, dent_x + 90, 430), outline=(250, 250, 250), width=6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed_incidents(session: Session, storage_root: str | Path | None = None) -> int:
    """Seed the demo incidents that are missing; returns how many were added."""
    root = storage_root or incident_storage()
    staff = session.scalar(select(User).where(User.email == "rocio.salinas@lafa.mx"))
    manager = session.scalar(select(User).where(User.email == "diego.barrios@lafa.mx"))
    contracts = list(
        session.scalars(
            select(Contract)
            .where(Contract.status == ContractStatus.ACTIVE)
            .order_by(Contract.id)
            .offset(1)  # the first driver is left without incidents (the browser tests')
            .limit(len(DEMO))
        )
    )
    if staff is None or manager is None or len(contracts) < len(DEMO):
        return 0
    now = utcnow().replace(second=0, microsecond=0)
    added = 0
    for n, (spec, contract) in enumerate(zip(DEMO, contracts, strict=True)):
        exists = session.scalar(
            select(Incident.id).where(
                Incident.driver_id == contract.driver_id, Incident.description == spec.description
            )
        )
        if exists is not None:
            continue
        _seed_one(session, spec, contract, staff, manager, now, n, root)
        added += 1
    session.flush()
    return added


def _seed_one(
    session: Session,
    spec: DemoIncident,
    contract: Contract,
    staff: User,
    manager: User,
    now: datetime,
    n: int,
    root: str | Path,
) -> None:
    reported = now - timedelta(days=spec.days_ago)
    files: list[CleanFile] = [
        clean_upload(
            io.BytesIO(demo_photo(color, n * 10 + i)),
            f"IMG_{2600 + n * 10 + i}.jpg",
            max_bytes=10**7,
        )
        for i, color in enumerate(spec.photos)
    ]
    incident = incident_report.report_incident(
        session,
        driver_id=contract.driver_id,
        reporter_id=contract.driver.user_id or staff.id,
        type=spec.type,
        occurred_at=reported - timedelta(minutes=35),
        place=spec.place,
        description=spec.description,
        latitude=None if spec.position is None else Decimal(spec.position[0]),
        longitude=None if spec.position is None else Decimal(spec.position[1]),
        position_source=None if spec.position is None else PositionSource.PHONE,
        files=files,
        storage_root=root,
        now=reported,
    )
    if spec.insurance:
        incident_claims.update_insurance(session, incident.id, actor_id=staff.id, **spec.insurance)
    if spec.comment:
        incident_claims.add_comment(session, incident.id, spec.comment, author_id=staff.id)
    for to in spec.path:
        note = spec.note if to in (S.CLOSED, S.REJECTED) else ""
        incident_claims.change_status(session, incident.id, to, actor_id=staff.id, note=note)
    if spec.deductible_charged:
        incident_costs.assign_liability(
            session,
            incident.id,
            kind=EntryKind.DEDUCTIBLE,
            amount_cents=500_000,
            reason="Deducible del siniestro GNP-7741-2026",
            sequence=1,
            actor_id=manager.id,
        )
    # Spread the timeline over the days since the report, in the order it happened.
    session.flush()
    span = now - reported
    steps = max(1, len(incident.events) - 1)
    for i, event in enumerate(incident.events):
        event.at = reported + span * (i / steps) * 0.8
    incident.status_changed_at = incident.events[-1].at
