"""Fixtures of the service tests (users, depots, vehicles, drivers, contracts, the fleet
import): an approved application, a catalogue model, a valid VIN and IMEI for a number,
the clock's today."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    ConnectorType,
    CreditDecision,
    Outcome,
    Role,
    User,
    VehicleModel,
)
from portal.services.identifiers import luhn_complete, with_vin_check_digit


@pytest.fixture
def vin_for() -> Callable[[int], str]:
    return _vin_for


@pytest.fixture
def imei_for() -> Callable[[int], str]:
    return _imei_for


def _vin_for(n: int, wmi: str = "LGX") -> str:
    """A VIN with a right check digit (ISO 3779), different for every `n`."""
    return with_vin_check_digit(f"{wmi}CE4CB0S{n:07d}")


def _imei_for(n: int) -> str:
    return luhn_complete(f"86{n:012d}")


@pytest.fixture
def catalogue(db: Session) -> VehicleModel:
    entry = VehicleModel(
        make="BYD",
        model="Dolphin Mini",
        battery_kwh=Decimal("38.8"),
        range_km=380,
        connector_type=ConnectorType.CCS2,
        max_ac_kw=Decimal("6.6"),
        max_dc_kw=Decimal("40"),
    )
    db.add(entry)
    db.flush()
    return entry


@pytest.fixture
def approved_application(
    db: Session, make_application: Callable[..., Any], make_user: Callable[..., User]
) -> Callable[..., Any]:
    """An application approved with the proposal rent $3,500, deposit $7,000, 156 weeks."""

    def make(**kw: Any) -> Any:
        application = make_application(earnings=False, **kw)
        staff = make_user(Role.STAFF)
        db.add(
            CreditDecision(
                application_id=application.id,
                outcome=Outcome.APPROVE,
                decided_by_id=staff.id,
                proposed_weekly_rent_cents=350_000,
                proposed_deposit_cents=700_000,
                proposed_term_weeks=156,
            )
        )
        application.status = ApplicationStatus.APPROVED
        db.flush()
        return application

    return make
