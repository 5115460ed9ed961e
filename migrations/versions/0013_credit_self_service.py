"""credit: applications sent by the applicant, platform profiles typed by hand

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-24 05:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "credit_applications",
        sa.Column("self_service", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "platform_accounts",
        sa.Column("hand_entered", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("platform_accounts", "hand_entered")
    op.drop_column("credit_applications", "self_service")
