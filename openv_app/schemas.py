"""What the API answers: a video as its owner sees it (the row's public fields plus signed
URLs), and a page of them. Used by the API and the UI alike."""

from __future__ import annotations

from pydantic import BaseModel

from openv_app.models import Video, VideoBase
from openv_app.services.storage import Storage


class VideoOut(VideoBase):
    video_url: str | None = None
    poster_url: str | None = None
    download_url: str | None = None


class VideoPage(BaseModel):
    videos: list[VideoOut]
    next_cursor: str | None


async def video_out(storage: Storage, video: Video) -> VideoOut:
    out = VideoOut.model_validate(video, from_attributes=True)
    if video.video_path:
        out.video_url = await storage.create_download_url(video.video_path)
        out.download_url = await storage.create_download_url(video.video_path, f"openv-{video.id}.mp4")
    if video.poster_path:
        out.poster_url = await storage.create_download_url(video.poster_path)
    return out
