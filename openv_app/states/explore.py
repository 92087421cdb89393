"""The Explore gallery: videos their owners shared, and the sample prompts shipped with the app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import reflex as rx

from openv_app.services.errors import AppError
from openv_app.services.views import public_view
from openv_app.services.wiring import get_job_service
from openv_app.shared_values import SharedValues
from openv_app.states import presets

PAGE_SIZE = 12
SAMPLES_FILE = Path(__file__).resolve().parent.parent / "sample_prompts.json"


@dataclass(frozen=True)
class PromptCard:
    """A card that leads to the studio with its prompt (and presets) filled in."""

    prompt: str = ""
    details: str = ""
    studio_link: str = ""


@dataclass(frozen=True)
class SharedCard(PromptCard):
    poster_url: str = ""
    page_url: str = ""


@dataclass(frozen=True)
class SamplePrompt(PromptCard):
    title: str = ""


def studio_link(
    prompt: str, aspect: str | None = None, resolution: str | None = None, duration: str | None = None
) -> str:
    """The studio with its form filled in (GenerateState.load_form reads these)."""
    params = {"prompt": prompt, "aspect": aspect, "resolution": resolution, "duration": duration}
    return "/?" + urlencode({name: value for name, value in params.items() if value})


def load_samples(path: Path = SAMPLES_FILE) -> list[SamplePrompt]:
    samples = []
    for entry in json.loads(path.read_text()):
        aspect, resolution, duration = entry["aspect"], entry["resolution"], entry["duration"]
        width, height = presets.size_for(aspect, resolution)
        samples.append(
            SamplePrompt(
                title=entry["title"],
                prompt=entry["prompt"],
                details=f"{width}×{height} · {duration}",
                studio_link=studio_link(entry["prompt"], aspect, resolution, duration),
            )
        )
    return samples


# Written into the page when it is compiled, not held by each tab's state: they are the same for
# everyone, and they paint with the prerendered page, before any event.
SAMPLES = load_samples()
# Every visitor sees the same shared videos: their tabs hold the same card objects.
shared_cards: SharedValues[SharedCard] = SharedValues()


class ExploreState(rx.State):
    shared: list[SharedCard] = []
    next_cursor: str = ""
    error: str = ""
    loaded: bool = False

    @rx.var
    def has_more(self) -> bool:
        return bool(self.next_cursor)

    @rx.event
    async def load_explore(self) -> None:
        self.shared, self.next_cursor = [], ""
        await self._load_page(None)
        self.loaded = True

    @rx.event
    async def load_more(self) -> None:
        if self.next_cursor:
            await self._load_page(self.next_cursor)

    async def _load_page(self, before: str | None) -> None:
        service = get_job_service()
        try:
            found, cursor = await service.queries.shared_videos(PAGE_SIZE, before)
        except AppError as error:
            self.error = error.message
            return
        for video in found:
            public = public_view(service, video)
            card = SharedCard(
                prompt=public.prompt,
                poster_url=public.poster_url or "",
                page_url=public.page_url,
                details=f"{public.width}×{public.height} · {public.num_frames} frames",
                studio_link=studio_link(public.prompt),
            )
            self.shared.append(shared_cards.share(card))
        self.next_cursor = cursor or ""
