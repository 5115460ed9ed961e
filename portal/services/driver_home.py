"""The driver's home page (phone), read in one place: the account, the contract and
the car as its tracker last reported it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from portal.models import Contract, Statement

from . import fleet, statements
from .fleet_status import CarStatus, get_driver_car_status


@dataclass(frozen=True, slots=True)
class DriverHome:
    contract: Contract | None
    week: int | None  # the contract's week number today
    account: statements.AccountSummary
    latest_statement: Statement | None
    car_status: CarStatus | None


def get_driver_home(session: Session, driver_id: int, today: date) -> DriverHome:
    contract = fleet.get_active_contract(session, driver_id)
    latest = statements.list_statements(session, driver_id, limit=1)
    return DriverHome(
        contract=contract,
        week=contract.week_number(today) if contract else None,
        account=statements.account_summary(session, driver_id, contract, today),
        latest_statement=latest[0] if latest else None,
        car_status=get_driver_car_status(session, driver_id),
    )
