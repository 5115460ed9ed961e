"""operations: users' resets, depot tariffs, the model catalogue, the vehicle and
contract lifecycles, handover and return checklists, the security deposit

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 06:00:00

- users: `deactivated_at`; `password_resets` (one-time code and link, hashed).
- drivers: the application they came from, their consent and who entered them.
- depots: `retired_at`; `depot_tariffs` and `depot_tariff_prices` (CFE tariffs as
  effective-dated data). Each existing depot gets its `cfe_tariff` kind from today at
  the demo prices of ../shared/domain/charging-cfe-tariffs.md, so that every depot
  has a tariff; an admin corrects them.
- vehicle_models: the catalogue, filled from the cars already registered (make, model,
  battery, range, connector); vehicles point at it.
- vehicles: statuses in_preparation, transferred, sold, written_off (retired cars
  become written_off); `status_changed_at`.
- contracts: statuses signed, suspended, cancelled; one live (signed, active or
  suspended) contract per car and per driver; opening weeks paid, the credit decision,
  the manager's sign-off, who proposed, when signed and handed over, the own car while
  a replacement is lent, the end reason, the import's source, the PDFs.
- contract_checklists: handover and return.
- ledger_entries: kind `security_deposit`, a charge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VEHICLE_STATUSES = (
    "in_preparation",
    "available",
    "leased",
    "in_repair",
    "out_of_service",
    "transferred",
    "sold",
    "written_off",
)
OLD_VEHICLE_STATUSES = ("available", "leased", "in_repair", "out_of_service", "retired")
CONTRACT_STATUSES = (
    "draft",
    "signed",
    "active",
    "suspended",
    "completed",
    "terminated",
    "cancelled",
)
OLD_CONTRACT_STATUSES = ("draft", "active", "completed", "terminated")
ENTRY_KINDS = (
    "rent",
    "energy",
    "toll",
    "fine",
    "damage",
    "deductible",
    "late_fee",
    "security_deposit",
    "deposit",
    "payment",
    "adjustment",
    "reversal",
)
OLD_ENTRY_KINDS = tuple(k for k in ENTRY_KINDS if k != "security_deposit")
CHARGES = ("damage", "deductible", "energy", "fine", "late_fee", "rent", "security_deposit", "toll")
OLD_CHARGES = tuple(k for k in CHARGES if k != "security_deposit")
LIVE = "status IN ('signed', 'active', 'suspended')"


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _sign_check(charges: Sequence[str]) -> str:
    return (
        f"(kind IN ({_in(charges)}) AND amount_cents > 0)"
        " OR (kind IN ('deposit', 'payment') AND amount_cents < 0)"
        " OR kind IN ('adjustment', 'reversal')"
    )


def _replace_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)


def _live_indexes(where: str) -> None:
    for column, name in (("vehicle_id", "vehicle"), ("driver_id", "driver")):
        op.drop_index(f"uq_contracts_active_{name}", table_name="contracts")
        op.create_index(
            f"uq_contracts_active_{name}",
            "contracts",
            [column],
            unique=True,
            postgresql_where=sa.text(where),
        )


def upgrade() -> None:
    # -- users and resets
    op.add_column("users", sa.Column("deactivated_at", sa.DateTime(timezone=True)))
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "staff",
                "sms",
                "demo",
                name="resetchannel",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(255), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_password_resets_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["users.id"], name=op.f("fk_password_resets_issued_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_password_resets_token_sha256")),
    )
    op.create_index("ix_password_resets_user_created", "password_resets", ["user_id", "created_at"])

    # -- drivers
    op.add_column("drivers", sa.Column("application_id", sa.Integer(), nullable=True))
    op.add_column("drivers", sa.Column("consent_at", sa.DateTime(timezone=True)))
    op.add_column("drivers", sa.Column("privacy_notice_version", sa.String(20)))
    op.add_column("drivers", sa.Column("created_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_drivers_application_id_credit_applications"),
        "drivers",
        "credit_applications",
        ["application_id"],
        ["id"],
    )
    op.create_unique_constraint(op.f("uq_drivers_application_id"), "drivers", ["application_id"])
    op.create_foreign_key(
        op.f("fk_drivers_created_by_id_users"), "drivers", "users", ["created_by_id"], ["id"]
    )

    # -- depots and their tariffs
    op.add_column("depots", sa.Column("retired_at", sa.DateTime(timezone=True)))
    op.create_table(
        "depot_tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "GDMTH",
                "GDMTO",
                name="tariffkind",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=False,
        ),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("capacity_mxn_per_kw", sa.Numeric(10, 4), nullable=False),
        sa.Column("distribution_mxn_per_kw", sa.Numeric(10, 4), nullable=False),
        sa.Column("fixed_mxn_per_month", sa.Numeric(10, 2), nullable=False),
        sa.Column("transmission_mxn_per_kwh", sa.Numeric(10, 4), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capacity_mxn_per_kw >= 0 AND distribution_mxn_per_kw >= 0"
            " AND fixed_mxn_per_month >= 0 AND transmission_mxn_per_kwh >= 0",
            name=op.f("ck_depot_tariffs_charges_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_depot_tariffs_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_depot_tariffs_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depot_tariffs")),
        sa.UniqueConstraint("depot_id", "effective_from", name="uq_depot_tariffs_depot_from"),
    )
    op.create_table(
        "depot_tariff_prices",
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column(
            "period",
            sa.Enum(
                "base",
                "intermedia",
                "punta",
                "unica",
                name="tariffperiod",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("mxn_per_kwh", sa.Numeric(10, 4), nullable=False),
        sa.CheckConstraint(
            "mxn_per_kwh >= 0", name=op.f("ck_depot_tariff_prices_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["depot_tariffs.id"],
            name=op.f("fk_depot_tariff_prices_tariff_id_depot_tariffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tariff_id", "period", name=op.f("pk_depot_tariff_prices")),
    )
    # Every depot gets a tariff of its kind, from today, at the note's figures.
    op.execute(
        """
        INSERT INTO depot_tariffs (depot_id, kind, effective_from, capacity_mxn_per_kw,
            distribution_mxn_per_kw, fixed_mxn_per_month, transmission_mxn_per_kwh, created_at)
        SELECT id, CASE WHEN cfe_tariff = 'GDMTO' THEN 'GDMTO' ELSE 'GDMTH' END,
            (now() AT TIME ZONE 'America/Mexico_City')::date,
            CASE WHEN cfe_tariff = 'GDMTO' THEN 373.75 ELSE 420.00 END,
            CASE WHEN cfe_tariff = 'GDMTO' THEN 64.12 ELSE 58.90 END,
            CASE WHEN cfe_tariff = 'GDMTO' THEN 466.83 ELSE 527.00 END,
            CASE WHEN cfe_tariff = 'GDMTO' THEN 0 ELSE 0.18 END,
            now()
        FROM depots
        """
    )
    op.execute(
        """
        INSERT INTO depot_tariff_prices (tariff_id, period, mxn_per_kwh)
        SELECT t.id, p.period, p.price
        FROM depot_tariffs t
        JOIN (VALUES ('GDMTH', 'base', 0.87), ('GDMTH', 'intermedia', 1.46),
                     ('GDMTH', 'punta', 1.60), ('GDMTO', 'unica', 1.699))
            AS p(kind, period, price) ON p.kind = t.kind
        """
    )

    # -- the model catalogue
    op.create_table(
        "vehicle_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("make", sa.String(40), nullable=False),
        sa.Column("model", sa.String(60), nullable=False),
        sa.Column("battery_kwh", sa.Numeric(5, 1), nullable=False),
        sa.Column("range_km", sa.Integer(), nullable=False),
        sa.Column(
            "connector_type",
            sa.Enum(
                "CCS2",
                "GBT",
                name="connectortype",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("max_ac_kw", sa.Numeric(5, 1), nullable=True),
        sa.Column("max_dc_kw", sa.Numeric(5, 1), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("battery_kwh > 0", name=op.f("ck_vehicle_models_battery_positive")),
        sa.CheckConstraint("range_km > 0", name=op.f("ck_vehicle_models_range_positive")),
        sa.CheckConstraint(
            "(max_ac_kw IS NULL OR max_ac_kw > 0) AND (max_dc_kw IS NULL OR max_dc_kw > 0)",
            name=op.f("ck_vehicle_models_power_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_models")),
        sa.UniqueConstraint("make", "model", "battery_kwh", name="uq_vehicle_models_version"),
    )
    op.execute(
        """
        INSERT INTO vehicle_models (make, model, battery_kwh, range_km, connector_type,
            created_at)
        SELECT DISTINCT ON (make, model, battery_kwh) make, model, battery_kwh, range_km,
            connector_type, now()
        FROM vehicles ORDER BY make, model, battery_kwh, id
        """
    )
    op.add_column("vehicles", sa.Column("model_id", sa.Integer(), nullable=True))
    op.add_column("vehicles", sa.Column("status_changed_at", sa.DateTime(timezone=True)))
    op.create_foreign_key(
        op.f("fk_vehicles_model_id_vehicle_models"),
        "vehicles",
        "vehicle_models",
        ["model_id"],
        ["id"],
    )
    op.execute(
        """
        UPDATE vehicles v SET model_id = m.id FROM vehicle_models m
        WHERE m.make = v.make AND m.model = v.model AND m.battery_kwh = v.battery_kwh
        """
    )

    # -- the vehicle lifecycle
    op.drop_constraint(op.f("ck_vehicles_vehiclestatus"), "vehicles", type_="check")
    op.execute("UPDATE vehicles SET status = 'written_off' WHERE status = 'retired'")
    op.create_check_constraint(
        op.f("ck_vehicles_vehiclestatus"), "vehicles", f"status IN ({_in(VEHICLE_STATUSES)})"
    )

    # -- contracts
    for column in (
        sa.Column("opening_weeks_paid", sa.Integer(), server_default="0", nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("needs_signoff", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("signed_off_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("own_vehicle_id", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.String(300), nullable=True),
        sa.Column("imported_from", sa.String(200), nullable=True),
        sa.Column("summary_pdf_sha256", sa.String(64), nullable=True),
        sa.Column("letter_pdf_sha256", sa.String(64), nullable=True),
    ):
        op.add_column("contracts", column)
    for column, table in (
        ("decision_id", "credit_decisions"),
        ("signed_off_by_id", "users"),
        ("proposed_by_id", "users"),
        ("own_vehicle_id", "vehicles"),
    ):
        op.create_foreign_key(
            op.f(f"fk_contracts_{column}_{table}"), "contracts", table, [column], ["id"]
        )
    op.create_check_constraint(
        op.f("ck_contracts_opening_weeks_within_term"),
        "contracts",
        "opening_weeks_paid >= 0 AND opening_weeks_paid <= term_weeks",
    )
    _replace_check("contracts", "contractstatus", f"status IN ({_in(CONTRACT_STATUSES)})")
    _live_indexes(LIVE)
    op.create_table(
        "contract_checklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "handover",
                "return",
                name="checklistkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("odometer_km", sa.Integer(), nullable=False),
        sa.Column("soc_pct", sa.Integer(), nullable=False),
        sa.Column("damage_notes", sa.Text(), nullable=True),
        sa.Column("damage_cents", sa.BigInteger(), nullable=False),
        sa.Column("charging_card", sa.String(36), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "damage_cents >= 0", name=op.f("ck_contract_checklists_damage_not_negative")
        ),
        sa.CheckConstraint(
            "odometer_km >= 0", name=op.f("ck_contract_checklists_odometer_not_negative")
        ),
        sa.CheckConstraint(
            "soc_pct BETWEEN 0 AND 100", name=op.f("ck_contract_checklists_soc_range")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_checklists_contract_id_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_contract_checklists_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_contract_checklists_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_contract_checklists_vehicle_id_vehicles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_checklists")),
    )
    op.create_index(
        op.f("ix_contract_checklists_contract_id"), "contract_checklists", ["contract_id"]
    )

    # -- the security deposit: a charge
    op.alter_column("ledger_entries", "kind", type_=sa.String(24), existing_type=sa.String(18))
    _replace_check("ledger_entries", "entrykind", f"kind IN ({_in(ENTRY_KINDS)})")
    _replace_check("ledger_entries", "sign_matches_kind", _sign_check(CHARGES))


def downgrade() -> None:
    _replace_check("ledger_entries", "sign_matches_kind", _sign_check(OLD_CHARGES))
    _replace_check("ledger_entries", "entrykind", f"kind IN ({_in(OLD_ENTRY_KINDS)})")
    op.alter_column("ledger_entries", "kind", type_=sa.String(18), existing_type=sa.String(24))
    op.drop_table("contract_checklists")
    _live_indexes("status = 'active'")
    op.execute("UPDATE contracts SET status = 'active' WHERE status IN ('signed', 'suspended')")
    op.execute("UPDATE contracts SET status = 'terminated' WHERE status = 'cancelled'")
    _replace_check("contracts", "contractstatus", f"status IN ({_in(OLD_CONTRACT_STATUSES)})")
    op.drop_constraint(op.f("ck_contracts_opening_weeks_within_term"), "contracts", type_="check")
    for column in (
        "letter_pdf_sha256",
        "summary_pdf_sha256",
        "imported_from",
        "end_reason",
        "own_vehicle_id",
        "activated_at",
        "signed_at",
        "proposed_by_id",
        "signed_off_at",
        "signed_off_by_id",
        "needs_signoff",
        "decision_id",
        "opening_weeks_paid",
    ):
        op.drop_column("contracts", column)
    op.drop_constraint(op.f("ck_vehicles_vehiclestatus"), "vehicles", type_="check")
    op.execute(
        "UPDATE vehicles SET status = 'retired'"
        " WHERE status IN ('transferred', 'sold', 'written_off')"
    )
    op.execute("UPDATE vehicles SET status = 'available' WHERE status = 'in_preparation'")
    op.create_check_constraint(
        op.f("ck_vehicles_vehiclestatus"), "vehicles", f"status IN ({_in(OLD_VEHICLE_STATUSES)})"
    )
    op.drop_column("vehicles", "status_changed_at")
    op.drop_column("vehicles", "model_id")
    op.drop_table("vehicle_models")
    op.drop_table("depot_tariff_prices")
    op.drop_table("depot_tariffs")
    op.drop_column("depots", "retired_at")
    for column in ("created_by_id", "privacy_notice_version", "consent_at", "application_id"):
        op.drop_column("drivers", column)
    op.drop_index("ix_password_resets_user_created", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_column("users", "deactivated_at")
