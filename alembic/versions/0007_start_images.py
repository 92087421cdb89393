"""start images: the image a video was made from, and how it was fitted

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("start_image_path", sa.String(500), nullable=True))
        batch.add_column(sa.Column("image_fit", sa.String(10), nullable=False, server_default="crop"))
        # The orphan sweep and deleting a video ask which live videos use an image.
        batch.create_index("ix_videos_start_image_path", ["start_image_path"])


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_index("ix_videos_start_image_path")
        batch.drop_column("image_fit")
        batch.drop_column("start_image_path")
