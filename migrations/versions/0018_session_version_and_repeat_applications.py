"""security: a session version per user; a public application that repeats an open one

Revision ID: 0018
Revises: 0015
Create Date: 2026-11-25 09:00:00

`users.session_version` is written into every session at log-in and checked on every
request: bumping it (log out everywhere, a password change or reset, a deactivation)
ends every session the user has. `credit_applications.repeat_of_id` links an
application sent from /solicitud with the CURP of an open one to that open one, for
staff to review (the public form no longer says that the CURP has one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "credit_applications",
        sa.Column(
            "repeat_of_id",
            sa.Integer(),
            sa.ForeignKey("credit_applications.id", name="fk_credit_applications_repeat_of_id_credit_applications"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_credit_applications_repeat_of_id", "credit_applications", ["repeat_of_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_credit_applications_repeat_of_id", table_name="credit_applications")
    op.drop_column("credit_applications", "repeat_of_id")
    op.drop_column("users", "session_version")
