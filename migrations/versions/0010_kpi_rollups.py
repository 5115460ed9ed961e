"""kpi rollups: the dashboard's closed days and contract outcomes, and the indexes its
open day needs

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-24 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=True),
        sa.Column("cars_driven", sa.Integer(), nullable=False),
        sa.Column("km", sa.Numeric(precision=12, scale=1), nullable=False),
        sa.Column("billed_cents", sa.BigInteger(), nullable=False),
        sa.Column("collected_cents", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("energy_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("connector_seconds", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("no_shows", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depots.id"],
            name=op.f("fk_kpi_daily_depot_id_depots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_daily")),
    )
    op.create_index(
        "uq_kpi_daily_day_depot",
        "kpi_daily",
        ["day", "depot_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "kpi_contract_outcomes",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("went_bad", sa.Boolean(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_kpi_contract_outcomes_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_kpi_contract_outcomes")),
    )
    op.create_index("ix_ledger_entries_posted", "ledger_entries", ["posted_at"])
    op.create_index("ix_charging_sessions_started", "charging_sessions", ["started_at"])
    op.create_index("ix_charging_sessions_stopped", "charging_sessions", ["stopped_at"])
    op.create_index("ix_bookings_window", "bookings", ["window_start"])
    op.create_index("ix_vehicle_daily_km_day", "vehicle_daily_km", ["day"])


def downgrade() -> None:
    op.drop_index("ix_vehicle_daily_km_day", table_name="vehicle_daily_km")
    op.drop_index("ix_bookings_window", table_name="bookings")
    op.drop_index("ix_charging_sessions_stopped", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_started", table_name="charging_sessions")
    op.drop_index("ix_ledger_entries_posted", table_name="ledger_entries")
    op.drop_table("kpi_contract_outcomes")
    op.drop_index("uq_kpi_daily_day_depot", table_name="kpi_daily")
    op.drop_table("kpi_daily")
