"""Rows for benchmarks and scale tests: videos already queued on RunPod."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from openv_app.models import Video


def in_flight_video(user_id: str = "bench-user", status: str = "PENDING") -> Video:
    video_id = uuid.uuid4()
    return Video(
        id=video_id,
        user_id=user_id,
        prompt="a benchmark prompt",
        model="wan2.1-t2v-1.3b",
        width=256,
        height=144,
        num_frames=9,
        fps=8,
        steps=4,
        guidance_scale=5.0,
        seed=1,
        status=status,
        runpod_status="IN_QUEUE",
        runpod_job_id=f"job-{video_id}",
    )


def insert_in_flight_videos(engine: sa.Engine, count: int, user_id: str = "bench-user") -> list[Video]:
    videos = [in_flight_video(user_id) for _ in range(count)]
    with engine.begin() as connection:
        connection.execute(sa.insert(Video.__table__), [video.model_dump(exclude_none=True) for video in videos])
    return videos
