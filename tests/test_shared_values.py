"""Equal cards held by many tabs are one object per process, and freed with the last tab."""

from __future__ import annotations

import gc
import weakref
from dataclasses import FrozenInstanceError, replace

import pytest

from openv_app.shared_values import SharedValues
from openv_app.states.cards import VideoCard
from openv_app.states.explore import SharedCard
from openv_app.states.explore import shared_cards as explore_cards


def card(**fields: object) -> VideoCard:
    values = {"id": "7f1c", "status": "COMPLETED", "prompt": "a heron at dawn", "poster_url": "/p?sig=1"}
    return VideoCard(**{**values, **fields})  # type: ignore[arg-type]


def test_equal_cards_built_apart_are_one_object() -> None:
    shared: SharedValues[VideoCard] = SharedValues()
    first, second = card(), card()
    assert first is not second
    assert shared.share(first) is first
    assert shared.share(second) is first


def test_a_changed_card_is_not_replaced_by_the_earlier_one() -> None:
    shared: SharedValues[VideoCard] = SharedValues()
    earlier = shared.share(card(progress=40, status="PROCESSING"))
    later = shared.share(card(progress=80, status="PROCESSING"))
    assert later is not earlier and later.progress == 80
    assert shared.share(card(progress=80, status="PROCESSING")) is later


def test_a_card_no_tab_holds_is_freed() -> None:
    shared: SharedValues[VideoCard] = SharedValues()
    held = shared.share(card())
    gone = weakref.ref(held)
    del held
    gc.collect()
    assert gone() is None
    assert len(shared) == 0


def test_a_hash_collision_keeps_both_values_apart() -> None:
    class SameHash(str):
        def __hash__(self) -> int:
            return 1

    shared: SharedValues[str] = SharedValues()
    one, other = SameHash("one"), SameHash("other")
    assert shared.share(one) is one
    assert shared.share(other) is other


def test_cards_cannot_be_changed_in_place() -> None:
    # A card is shared by every tab that shows it: a change must be a new card.
    shown = card()
    with pytest.raises(FrozenInstanceError):
        shown.progress = 50  # type: ignore[misc]
    assert replace(shown, progress=50).progress == 50


def test_explore_cards_are_shared_between_visitors() -> None:
    fields = {"prompt": "a fox", "poster_url": "/api/public/abc/poster.jpg", "page_url": "/v/abc"}
    first = explore_cards.share(SharedCard(**fields))
    assert explore_cards.share(SharedCard(**fields)) is first
