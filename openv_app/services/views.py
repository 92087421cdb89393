"""A video as the API and the UI show it: one builder for the owner's view (signed storage URLs,
the share link), one for the public view of a shared video, and the user's account standing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openv_app.models import Video
from openv_app.schemas import AccountOut, PublicVideo, UsageOut, VideoOut
from openv_app.services.storage import image_id_of

if TYPE_CHECKING:
    from openv_app.services.jobs import JobService

PUBLIC_MEDIA = {"video.mp4": "video_path", "poster.jpg": "poster_path"}


def share_url(public_base_url: str, slug: str) -> str:
    return f"{public_base_url}/v/{slug}"


async def owner_view(service: JobService, video: Video) -> VideoOut:
    """The video with URLs its owner can play, download and share for a while."""
    storage, base = service.storage, service.settings.public_base_url
    out = VideoOut.model_validate(video, from_attributes=True)
    if video.share_slug:
        out.share_url = share_url(base, video.share_slug)
    if video.video_path:
        out.video_url = await storage.create_download_url(video.video_path)
        out.download_url = await storage.create_download_url(video.video_path, f"openv-{video.id}.mp4")
    if video.poster_path:
        out.poster_url = await storage.create_download_url(video.poster_path)
    if video.start_image_path:
        out.start_image_id = image_id_of(video.start_image_path)
        out.start_image_url = await storage.create_download_url(video.start_image_path)
    return out


def public_view(service: JobService, video: Video) -> PublicVideo:
    """The media URLs go through the app (`/api/public/{slug}/video.mp4`): a storage URL would
    show the storage path, which names the owner."""
    assert video.share_slug, "only shared videos are public"
    base = service.settings.public_base_url
    media = f"{base}/api/public/{video.share_slug}"
    return PublicVideo(
        **video.model_dump(include=set(PublicVideo.model_fields) - {"video_url", "poster_url", "page_url"}),
        video_url=f"{media}/video.mp4",
        poster_url=f"{media}/poster.jpg" if video.poster_path else None,
        page_url=share_url(base, video.share_slug),
    )


def public_media_path(video: Video, name: str) -> str | None:
    """The stored file behind a shared video's public media name, if there is one."""
    return getattr(video, PUBLIC_MEDIA[name]) if name in PUBLIC_MEDIA else None


async def account_view(service: JobService, user_id: str) -> AccountOut:
    """The user's standing and usage, as the API answers it and the studio shows it."""
    standing = await service.accounts.standing(user_id)
    usage = await service.quota.usage(user_id)
    account, blocker, limits = standing.account, standing.blocker, usage.limits
    terms = service.accounts.terms
    return AccountOut(
        user_id=account.user_id,
        email=account.email,
        role=account.role,
        disabled=account.disabled_at is not None,
        may_generate=blocker is None,
        blocked_reason=blocker.message if blocker else None,
        blocked_field=blocker.field if blocker else None,
        terms_version=terms.version if terms else None,
        terms_accepted=standing.terms_accepted,
        usage=UsageOut(
            unfinished=usage.unfinished,
            max_concurrent_jobs=limits.max_concurrent_jobs,
            videos_today=usage.videos_today,
            daily_videos=limits.daily_videos,
            gpu_seconds_today=usage.gpu_seconds_today,
            daily_gpu_seconds=limits.daily_gpu_seconds,
            gpu_seconds_this_month=usage.gpu_seconds_this_month,
            monthly_gpu_seconds=limits.monthly_gpu_seconds,
        ),
    )
