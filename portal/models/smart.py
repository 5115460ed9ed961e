"""Depot smart charging: which depots plan their charging, and the plans made.

A plan (`services.charging.smart`) is kW per car per 15-minute slot from `start_at`,
with what it costs under the depot's CFE tariff and what uncontrolled charging (every
car at full power from arrival) would cost over the same slots, both in centavos.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base

from ._types import Cents, Created, Timestamp
from .telemetry import Json


class DepotPlanning(Base):
    """A depot's smart-charging switch (no row: off)."""

    __tablename__ = "depot_planning"

    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[Timestamp | None]


class ChargingPlan(Base):
    """One plan of a depot's charging. `schedule` maps a car's id (str) to its kW in each
    slot, `cars` what is known of each car (plate, connector, session, booking,
    state of charge); `short_kwh` the cars that would leave short; `costs` the plan's and
    uncontrolled charging's energy, capacity and distribution in centavos."""

    __tablename__ = "charging_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    created_at: Mapped[Created]
    strategy: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    slot_minutes: Mapped[int]
    site_limit_kw: Mapped[float]
    cost_cents: Mapped[Cents]
    uncontrolled_cost_cents: Mapped[Cents]
    costs: Mapped[dict[str, Any]] = mapped_column(Json)
    schedule: Mapped[dict[str, Any]] = mapped_column(Json)
    short_kwh: Mapped[dict[str, Any]] = mapped_column(Json)
    punta: Mapped[list[Any]] = mapped_column(Json)
    cars: Mapped[dict[str, Any]] = mapped_column(Json)
