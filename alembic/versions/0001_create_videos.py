"""create the videos table

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("num_frames", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("guidance_scale", sa.Float(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("runpod_status", sa.String(20), nullable=True),
        sa.Column("runpod_job_id", sa.String(255), nullable=True, unique=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(50), nullable=True),
        sa.Column("video_path", sa.String(500), nullable=True),
        sa.Column("poster_path", sa.String(500), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        _timestamp("completed_at"),
        _timestamp("deleted_at"),
        _timestamp("files_removed_at"),
        _timestamp("poll_lease_until"),
    )
    op.create_index("ix_videos_user_created", "videos", ["user_id", sa.text("created_at DESC")])
    op.create_index("ix_videos_status", "videos", ["status"])
    if op.get_bind().dialect.name == "postgresql":
        # Supabase exposes public tables through its Data API; RLS with no policies keeps
        # the anon key out while the app's own connection (table owner) is unaffected.
        op.execute("ALTER TABLE videos ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index("ix_videos_status", table_name="videos")
    op.drop_index("ix_videos_user_created", table_name="videos")
    op.drop_table("videos")
