"""per-job poll schedule instead of a sweep lease; automatic retries

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("earlier_attempts_ms", sa.BigInteger(), nullable=True))
        batch.drop_column("poll_lease_until")
        batch.create_index("ix_videos_next_poll_at", ["next_poll_at"])


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_index("ix_videos_next_poll_at")
        batch.add_column(sa.Column("poll_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("earlier_attempts_ms")
        batch.drop_column("attempts")
        batch.drop_column("polled_at")
        batch.drop_column("next_poll_at")
