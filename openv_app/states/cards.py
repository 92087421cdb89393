"""What a library card shows: built from the owner's view of a video, immutable, and shared per
process (a thousand tabs showing one video hold one card). Plain Python: the library's state
(states/library.py) holds lists of these, and the live path (openv_app/live.py) builds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from openv_app.models import Video
from openv_app.schemas import VideoOut
from openv_app.services.statuses import IN_FLIGHT_STATUSES, UNCONFIRMED
from openv_app.services.views import owner_view
from openv_app.services.wiring import get_job_service
from openv_app.shared_values import SharedValues
from worker.contract import MODEL_SPECS


def model_name(model: str) -> str:
    spec = MODEL_SPECS.get(model)
    return spec.name if spec else model


@dataclass(frozen=True, slots=True, weakref_slot=True)
class VideoCard:
    """What a card shows. Immutable and shared per process (see `card_for`): a change to a video
    is a new card, which is also how the live path tells what to send."""

    id: str = ""
    status: str = ""
    status_text: str = ""
    in_flight: bool = False
    progress: int = 0
    prompt: str = ""
    error: str = ""
    created: str = ""
    details: str = ""
    duration_s: float = 0.0
    video_url: str = ""
    poster_url: str = ""
    download_url: str = ""
    timing: str = ""
    share_url: str = ""
    start_image_url: str = ""

    @classmethod
    def from_view(cls, view: VideoOut) -> VideoCard:
        return cls(
            id=str(view.id),
            status=view.status,
            status_text=status_text(view),
            in_flight=view.status in IN_FLIGHT_STATUSES,
            progress=view.progress,
            prompt=view.prompt,
            error=note_text(view),
            created=view.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            details=f"{model_name(view.model)} · {view.width}×{view.height} · {view.num_frames} frames · "
            f"{view.steps} steps · seed {view.seed}",
            duration_s=view.duration_s or 0.0,
            video_url=view.video_url or "",
            poster_url=view.poster_url or "",
            download_url=view.download_url or "",
            timing=timing_text(view),
            share_url=view.share_url or "",
            start_image_url=view.start_image_url or "",
        )


# Every tab that shows a video holds the same card object (a thousand tabs of one library cost one).
shared_cards: SharedValues[VideoCard] = SharedValues()


async def card_for(video: Video) -> VideoCard:
    return shared_cards.share(VideoCard.from_view(await owner_view(get_job_service(), video)))


def seconds_text(milliseconds: int) -> str:
    seconds = round(milliseconds / 1000)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def timing_text(view: VideoOut) -> str:
    """ "queued 3 s · generated in 41 s": RunPod's queue and GPU time of a finished job."""
    parts = []
    if view.delay_ms is not None:
        parts.append(f"queued {seconds_text(view.delay_ms)}")
    if view.execution_ms is not None:
        parts.append(f"generated in {seconds_text(view.execution_ms)}")
    if view.earlier_attempts_ms:
        parts.append(f"{seconds_text(view.earlier_attempts_ms)} in earlier attempts")
    return " · ".join(parts)


def status_text(view: VideoOut) -> str:
    if view.status == "PENDING" and view.stage == UNCONFIRMED:
        return "Not confirmed by RunPod"
    if view.status == "PENDING":
        return f"Queued again (attempt {view.attempts + 1})" if view.attempts else "Queued"
    if view.status == "PROCESSING":
        return "Encoding" if view.stage == "encoding" else f"Generating {view.progress}%"
    if view.status == "FAILED":
        return "Failed"
    return view.status.capitalize()


def note_text(view: VideoOut) -> str:
    """The line under a card's status: why it failed, or what happens to a job in a gap."""
    if view.status == "PENDING" and view.stage == UNCONFIRMED:
        return (
            "RunPod did not answer when the job was sent. It holds none of your slots; "
            "if RunPod runs it after all, the video appears here."
        )
    if view.status in IN_FLIGHT_STATUSES and view.attempts and view.error:
        return f"The previous attempt failed ({view.error}); trying again."
    return view.error or ""


CardChange = VideoCard | str  # a card to show, or the id of a video that left the library


async def card_or_removal(video: Video) -> CardChange:
    return str(video.id) if video.deleted_at is not None else await card_for(video)
