"""The demo chargers, prices and id tags: part of seed_demo, deterministic, idempotent."""

from sqlalchemy import func, select

from portal.demo.charging import DEMO_CHARGER_PASSWORD
from portal.demo.seed import seed_demo
from portal.models import (
    Charger,
    ChargerConnector,
    Contract,
    ContractStatus,
    DepotEnergyPrice,
    IdTag,
)
from portal.passwords import verify_password


def test_demo_chargers_prices_and_tags(db):
    for _ in range(2):
        seed_demo(db, vehicles=12)
        db.flush()
    chargers = list(db.scalars(select(Charger).order_by(Charger.identity)))
    assert [c.identity for c in chargers[:2]] == ["LAFA-COY-01", "LAFA-COY-02"]
    assert len(chargers) == 15
    assert verify_password(chargers[0].password_hash, DEMO_CHARGER_PASSWORD)
    types = db.execute(
        select(ChargerConnector.connector_type, func.count()).group_by(
            ChargerConnector.connector_type
        )
    ).all()
    assert dict(types) == {"CCS2": 15, "GBT": 15}
    assert db.scalar(select(func.count(DepotEnergyPrice.id))) == 3
    active = db.scalar(
        select(func.count(Contract.id)).where(Contract.status == ContractStatus.ACTIVE)
    )
    assert db.scalar(select(func.count(IdTag.id))) == active > 0
