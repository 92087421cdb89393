"""Explore's first page of shared videos, written by the server into the page's HTML.

Explore's largest paint is a shared video's poster. A prerendered Reflex page is built once,
with no shared videos, and the posters came only once the page's JavaScript had downloaded,
run, connected its websocket and loaded the gallery: 2.6 s on Lighthouse's phone (slow 4G),
of which ~1 s is the JavaScript's download alone. So the server answers `/explore/` with the
built page and the first page of cards in it (the `/explore/` route), and the poster is fetched
as soon as the HTML is parsed, without JavaScript at all.

The cards sit in an element whose content React does not own (`dangerouslySetInnerHTML`:
hydration keeps what the server wrote there). The prerendered page holds placeholders in it,
which is what a visit that does not come from the server (a navigation inside the app) shows.
Once the gallery has loaded, the page swaps that element for the live cards, built by
`openv_app/components/explore_cards.py` with the same markup and classes (assets/cards.css),
so nothing moves (tests/test_e2e_explore.py compares them).
"""

from __future__ import annotations

import re
from html import escape

from openv_app.radix_classes import BUTTON, CARD, LINK, SMALL_BUTTON
from openv_app.services.gallery import SharedCard

FIRST_PAGE_ID = "explore-first-page"
FIRST_PAGE_TAG = re.compile(rf'<div [^>]*\bid="{FIRST_PAGE_ID}"[^>]*>')

# Radix Themes' Grid and Flex as they render for Explore's grid and a card's column; the live
# cards are built from the same (components/explore_cards.py).
GRID = "rt-Grid rt-r-gtc-1 sm:rt-r-gtc-2 md:rt-r-gtc-3 rt-r-gap-4 explore-grid"
STACK = "rt-Flex rt-r-fd-column rt-r-ai-start rt-r-gap-2 rx-Stack explore-card-body"

# One row of boxes of a card's shape, one per column the grid has at the window's width.
PLACEHOLDER_CARD = (
    f'<div aria-hidden="true" class="{CARD} placeholder-card explore-placeholder">'
    f'<div class="{STACK}"><div class="poster-box"></div><div class="text-box"></div></div></div>'
)
PLACEHOLDERS = f'<div class="{GRID}">{PLACEHOLDER_CARD * 3}</div>'

NOTHING_SHARED = "Nothing shared yet: start from a sample below."


def shared_card_html(card: SharedCard) -> str:
    prompt = escape(card.prompt)
    return (
        f'<div class="{CARD} shared-card"><div class="{STACK}">'
        f'<a data-accent-color="" aria-label="Watch {prompt}" class="{LINK} poster-link" href="{escape(card.page_url)}">'
        f'<img src="{escape(card.poster_url)}" alt="Poster of {prompt}"></a>'
        f'<p class="rt-Text rt-r-size-2 shared-prompt">{prompt}</p>'
        f'<p data-accent-color="gray" class="rt-Text rt-r-size-1">{escape(card.details)}</p>'
        f'<a data-accent-color="" class="{SMALL_BUTTON} use-prompt" href="{escape(card.studio_link)}">'
        "Use this prompt</a>"
        "</div></div>"
    )


def first_page_html(cards: list[SharedCard], has_more: bool) -> str:
    """What the live page shows once the gallery has loaded (pages/explore.py)."""
    if not cards:
        return f'<p data-accent-color="gray" class="rt-Text" id="nothing-shared">{NOTHING_SHARED}</p>'
    grid = f'<div class="{GRID}" id="shared-videos">{"".join(shared_card_html(card) for card in cards)}</div>'
    # Inert until the page is live, like every button of a prerendered page.
    more = f'<button data-accent-color="" class="{BUTTON}" id="explore-more">Load more</button>' if has_more else ""
    return grid + more


def with_first_page(page: str, content: str) -> str | None:
    """The built page with `content` in place of its placeholders; None when the page has no
    placeholders to replace (a build of another shape)."""
    tag = FIRST_PAGE_TAG.search(page)
    if not tag or not page.startswith(PLACEHOLDERS, tag.end()):
        return None
    return page[: tag.end()] + content + page[tag.end() + len(PLACEHOLDERS) :]
