"""Demo chargers, id tags, energy prices and CFE tariffs (called by
`portal.demo.seed.seed_demo`).

Five chargers per demo depot (`LAFA-<depot>-01` … `-05`), each with a CCS2 and a GB/T
connector of 60 kW; one id tag per driver under contract; a price per kWh per depot;
a GDMTH tariff per depot (the middle of the region's 2025 ranges in
../shared/domain/charging-cfe-tariffs.md), so the managers' smart-charging and bill pages
have something to plan and bill. Smart charging stays off: a manager turns it on per
depot. Deterministic and idempotent. The chargers share `DEMO_CHARGER_PASSWORD`, which only
the simulator in demo mode uses.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    Charger,
    ChargerConnector,
    ChargerRegistration,
    ConnectorType,
    Contract,
    ContractStatus,
    Depot,
    DepotEnergyPrice,
    IdTag,
    TariffKind,
    TariffPeriod,
)
from portal.passwords import hash_password
from portal.services.depots import TariffData, current_tariff, set_tariff

DEMO_CHARGER_PASSWORD = "lafa-demo-charger-2026"  # noqa: S105 - demo mode only
CHARGERS_PER_DEPOT = 5
# What a driver pays per kWh (centavos). A GDMTH depot pays CFE about 0.8-1.7 MXN/kWh of
# energy plus capacity and distribution charges; the retail price covers those too.
DEMO_PRICES = {"VAL": 450, "IZT": 430, "COY": 470}
PRICES_FROM = date(2025, 1, 1)
DEMO_TARIFF = TariffData(
    kind=TariffKind.GDMTH,
    effective_from=date(2025, 5, 1),  # the start of the prices' year
    energy_mxn_per_kwh={
        TariffPeriod.BASE: Decimal("0.87"),
        TariffPeriod.INTERMEDIA: Decimal("1.46"),
        TariffPeriod.PUNTA: Decimal("1.60"),
    },
    transmission_mxn_per_kwh=Decimal("0.18"),
    capacity_mxn_per_kw=Decimal("422"),
    distribution_mxn_per_kw=Decimal("59"),
    fixed_mxn_per_month=Decimal("527"),
)


def demo_id_tag(driver_id: int) -> str:
    return f"LAFA{driver_id:06d}"


def seed_charging(session: Session) -> int:
    """Create what is missing; return how many chargers exist for the demo depots."""
    depots = list(
        session.scalars(select(Depot).where(Depot.code.in_(DEMO_PRICES)).order_by(Depot.code))
    )
    password_hash: str | None = None
    count = 0
    for depot in depots:
        if (
            session.scalar(
                select(DepotEnergyPrice.id).where(
                    DepotEnergyPrice.depot_id == depot.id,
                    DepotEnergyPrice.valid_from == PRICES_FROM,
                )
            )
            is None
        ):
            session.add(
                DepotEnergyPrice(
                    depot_id=depot.id,
                    valid_from=PRICES_FROM,
                    price_per_kwh_cents=DEMO_PRICES[depot.code],
                )
            )
        if current_tariff(session, depot.id, DEMO_TARIFF.effective_from) is None:
            set_tariff(session, depot, DEMO_TARIFF, actor_id=None)
        for n in range(1, CHARGERS_PER_DEPOT + 1):
            identity = f"LAFA-{depot.code}-{n:02d}"
            count += 1
            if session.scalar(select(Charger.id).where(Charger.identity == identity)) is not None:
                continue
            password_hash = password_hash or hash_password(DEMO_CHARGER_PASSWORD)
            charger = Charger(
                identity=identity,
                name=f"{depot.name} {n}",
                depot_id=depot.id,
                registration=ChargerRegistration.ACCEPTED,
                password_hash=password_hash,
                max_kw=Decimal("120"),
            )
            session.add(charger)
            session.flush()
            for evse_id, kind in ((1, ConnectorType.CCS2), (2, ConnectorType.GBT)):
                session.add(
                    ChargerConnector(
                        charger_id=charger.id,
                        evse_id=evse_id,
                        connector_id=1,
                        connector_type=kind,
                        max_kw=Decimal("60"),
                    )
                )
    tagged = set(session.scalars(select(IdTag.driver_id)))
    for (driver_id,) in session.execute(
        select(Contract.driver_id)
        .where(Contract.status == ContractStatus.ACTIVE)
        .order_by(Contract.driver_id)
    ):
        if driver_id not in tagged:
            session.add(IdTag(tag=demo_id_tag(driver_id), driver_id=driver_id, active=True))
    session.flush()
    return count
