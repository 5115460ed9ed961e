"""charging profiles: GetCompositeSchedule in the command log, chargers that refuse
profiles

Revision ID: 0022
Revises: 0016
Create Date: 2026-12-07 09:30:00

- `charger_commands.action`: `get_composite_schedule` (the confirmation of a profile).
- `chargers.profiles_refused_at`: when the charger last refused a charging profile; the
  depot's plan then takes its cars at full power and sends it no profiles.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "remote_start",
    "remote_stop",
    "unlock_connector",
    "reset",
    "change_availability",
    "reserve_now",
    "cancel_reservation",
    "trigger_message",
    "get_configuration",
    "change_configuration",
    "set_charging_profile",
    "clear_charging_profile",
)


def _actions(actions: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_charger_commands_commandaction"), "charger_commands", type_="check")
    listed = ", ".join(f"'{a}'" for a in actions)
    op.create_check_constraint(
        op.f("ck_charger_commands_commandaction"), "charger_commands", f"action IN ({listed})"
    )


def upgrade() -> None:
    _actions((*ACTIONS, "get_composite_schedule"))
    op.add_column(
        "chargers", sa.Column("profiles_refused_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("chargers", "profiles_refused_at")
    op.execute("DELETE FROM charger_commands WHERE action = 'get_composite_schedule'")
    _actions(ACTIONS)
