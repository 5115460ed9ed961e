"""smart charging: the depots that plan their charging, and the plans made

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-07 06:10:00

`depot_planning`: a depot's switch (no row: off). `charging_plans`: each plan of a
depot's charging (kW per car per slot as JSON, its cost and uncontrolled charging's in
centavos), written by `portal.services.charging.smart`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "depot_planning",
        sa.Column("depot_id", sa.Integer(), sa.ForeignKey("depots.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "charging_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("depot_id", sa.Integer(), sa.ForeignKey("depots.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("site_limit_kw", sa.Float(), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("uncontrolled_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("costs", JSON, nullable=False),
        sa.Column("schedule", JSON, nullable=False),
        sa.Column("short_kwh", JSON, nullable=False),
        sa.Column("punta", JSON, nullable=False),
        sa.Column("cars", JSON, nullable=False),
    )
    op.create_index("ix_charging_plans_depot_id", "charging_plans", ["depot_id"])


def downgrade() -> None:
    op.drop_index("ix_charging_plans_depot_id", table_name="charging_plans")
    op.drop_table("charging_plans")
    op.drop_table("depot_planning")
