"""What a video looks like to its owner: the row plus signed URLs. Used by the API and the UI."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from openv_app.models import Video
from openv_app.services.jobs import JobService


class VideoOut(BaseModel):
    id: uuid.UUID
    status: str
    runpod_status: str | None
    runpod_job_id: str | None
    progress: int
    stage: str | None
    error: str | None
    prompt: str
    negative_prompt: str
    model: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    seed: int
    duration_s: float | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    video_url: str | None = None
    poster_url: str | None = None
    download_url: str | None = None


class VideoPage(BaseModel):
    videos: list[VideoOut]
    next_cursor: str | None


async def video_out(service: JobService, video: Video) -> VideoOut:
    out = VideoOut.model_validate(video, from_attributes=True)
    if video.video_path:
        out.video_url = await service.storage.create_download_url(video.video_path)
        out.download_url = await service.storage.create_download_url(video.video_path, f"openv-{video.id}.mp4")
    if video.poster_path:
        out.poster_url = await service.storage.create_download_url(video.poster_path)
    return out
