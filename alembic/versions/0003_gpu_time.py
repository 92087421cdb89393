"""RunPod's queue and execution time of each job

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("delay_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("execution_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("execution_ms")
        batch.drop_column("delay_ms")
