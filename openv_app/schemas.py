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
    share_url: str | None = None  # the public page, while the owner shares the video


class PublicVideo(BaseModel):
    """A shared video as anyone with its link sees it: no ids, no owner, nothing else."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    seed: int
    duration_s: float | None
    video_url: str
    poster_url: str | None
    page_url: str  # the public page, /v/{slug}


class PublicPage(BaseModel):
    videos: list[PublicVideo]
    next_cursor: str | None


class VideoPage(BaseModel):
    videos: list[VideoOut]
    next_cursor: str | None


def share_url(public_base_url: str, slug: str) -> str:
    return f"{public_base_url}/v/{slug}"


async def video_out(storage: Storage, video: Video, public_base_url: str) -> VideoOut:
    out = VideoOut.model_validate(video, from_attributes=True)
    if video.share_slug:
        out.share_url = share_url(public_base_url, video.share_slug)
    if video.video_path:
        out.video_url = await storage.create_download_url(video.video_path)
        out.download_url = await storage.create_download_url(video.video_path, f"openv-{video.id}.mp4")
    if video.poster_path:
        out.poster_url = await storage.create_download_url(video.poster_path)
    return out


def public_video_out(video: Video, public_base_url: str) -> PublicVideo:
    """The media URLs go through the app (`/api/public/{slug}/video.mp4`): a storage URL would
    show the storage path, which names the owner."""
    assert video.share_slug, "only shared videos are public"
    base = f"{public_base_url}/api/public/{video.share_slug}"
    return PublicVideo(
        **video.model_dump(include=set(PublicVideo.model_fields) - {"video_url", "poster_url", "page_url"}),
        video_url=f"{base}/video.mp4",
        poster_url=f"{base}/poster.jpg" if video.poster_path else None,
        page_url=share_url(public_base_url, video.share_slug),
    )
