"""drivers: how full each driver wants their car

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:20:00

- `drivers.charge_target_pct`: the state of charge (50-100 %) the depot's smart-charging
  plan charges the driver's car to; NULL: the policy's target.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("drivers", sa.Column("charge_target_pct", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_drivers_charge_target_pct_in_range"),
        "drivers",
        "charge_target_pct BETWEEN 50 AND 100",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_drivers_charge_target_pct_in_range"), "drivers", type_="check")
    op.drop_column("drivers", "charge_target_pct")
