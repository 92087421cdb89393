"""accounts with roles and limit overrides, vouchers, terms acceptances, the admin audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.Column("max_concurrent_jobs", sa.Integer(), nullable=True),
        sa.Column("daily_videos", sa.Integer(), nullable=True),
        sa.Column("daily_gpu_seconds", sa.Integer(), nullable=True),
        sa.Column("monthly_gpu_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    # Everyone who generated before roles existed keeps generating.
    op.execute(
        "INSERT INTO accounts (user_id, role, created_at, updated_at) "
        "SELECT user_id, 'user', MIN(created_at), MIN(created_at) FROM videos GROUP BY user_id"
    )
    op.create_table(
        "terms_acceptances",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("accepted_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "vouchers",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "voucher_redemptions",
        sa.Column("code", sa.String(64), sa.ForeignKey("vouchers.code"), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("redeemed_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("actor_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    for table in ("audit_log", "voucher_redemptions", "vouchers", "terms_acceptances", "accounts"):
        op.drop_table(table)
