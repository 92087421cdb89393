"""public share links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("share_slug", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_videos_share_slug", ["share_slug"])


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_constraint("uq_videos_share_slug", type_="unique")
        batch.drop_column("share_slug")
