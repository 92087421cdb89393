"""Explore's gallery: the cards of the videos their owners shared, a page at a time.

Built here, without Reflex, because two places show the same first page: Explore's state (the
live page) and the server, which writes it into the page's HTML (`openv_app/api/explore_page.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from openv_app.services.views import public_view

if TYPE_CHECKING:
    from openv_app.services.jobs import JobService

PAGE_SIZE = 12


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
class SharedPage:
    cards: list[SharedCard]
    next_cursor: str  # empty on the last page


def studio_link(
    prompt: str, aspect: str | None = None, resolution: str | None = None, duration: str | None = None
) -> str:
    """The studio with its form filled in (GenerateState.load_form reads these)."""
    params = {"prompt": prompt, "aspect": aspect, "resolution": resolution, "duration": duration}
    return "/?" + urlencode({name: value for name, value in params.items() if value})


async def shared_page(service: JobService, before: str | None, size: int = PAGE_SIZE) -> SharedPage:
    """Shared videos, newest first, older than the `before` cursor. Raises AppError."""
    found, cursor = await service.queries.shared_videos(size, before)
    cards = []
    for video in found:
        public = public_view(service, video)
        cards.append(
            SharedCard(
                prompt=public.prompt,
                poster_url=public.poster_url or "",
                page_url=public.page_url,
                details=f"{public.width}×{public.height} · {public.num_frames} frames",
                studio_link=studio_link(public.prompt),
            )
        )
    return SharedPage(cards, cursor or "")
