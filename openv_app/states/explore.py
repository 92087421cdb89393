"""The Explore gallery: videos their owners shared, and the sample prompts shipped with the app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import reflex as rx

from openv_app.services.errors import AppError
from openv_app.services.gallery import PromptCard, SharedCard, shared_page, studio_link
from openv_app.services.wiring import get_job_service
from openv_app.shared_values import SharedValues
from openv_app.states import presets

SAMPLES_FILE = Path(__file__).resolve().parent.parent / "sample_prompts.json"


@dataclass(frozen=True)
class SamplePrompt(PromptCard):
    title: str = ""


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
        try:
            page = await shared_page(get_job_service(), before)
        except AppError as error:
            self.error = error.message
            return
        self.shared.extend(shared_cards.share(card) for card in page.cards)
        self.next_cursor = page.next_cursor
