"""Video rows and handler inputs for tests and benchmarks: one place for the boilerplate of a
valid one."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from openv_app.models import Video


def video_row(**overrides: Any) -> Video:
    """A small valid video (not stored); any column can be overridden."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "user_id": "bench-user",
        "prompt": "a benchmark prompt",
        "model": "wan2.1-t2v-1.3b",
        "width": 128,
        "height": 128,
        "num_frames": 9,
        "fps": 8,
        "steps": 4,
        "guidance_scale": 5.0,
        "seed": 1,
    }
    return Video(**{**values, **overrides})


def insert_videos(engine: sa.Engine, videos: list[Video]) -> list[Video]:
    with engine.begin() as connection:
        connection.execute(sa.insert(Video.__table__), [video.model_dump(exclude_none=True) for video in videos])
    return videos


def insert_in_flight_videos(engine: sa.Engine, count: int, user_id: str = "bench-user") -> list[Video]:
    """Videos already queued on RunPod (each with a job id), stored."""
    ids = [uuid.uuid4() for _ in range(count)]
    videos = [video_row(id=i, user_id=user_id, runpod_status="IN_QUEUE", runpod_job_id=f"job-{i}") for i in ids]
    return insert_videos(engine, videos)


def tiny_handler_input(**overrides: Any) -> dict[str, Any]:
    """A job input for the real worker handler that the tiny engine renders in seconds."""
    return {
        "prompt": "a red fox running through snow",
        "width": 128,
        "height": 128,
        "num_frames": 9,
        "fps": 8,
        "steps": 3,
        "seed": 7,
        **overrides,
    }
