"""Live pushes (openv_app/live.py): who gets a change, what a failure does, what the refresh costs.

Reflex's side is a small stand-in here (an app with `modify_state` and a token manager); the
real thing is exercised across two workers in tests/test_e2e_workers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from openv_app import live
from openv_app.models import Video
from openv_app.services.storage import StorageError
from openv_app.states import cards
from openv_app.states.cards import VideoCard
from openv_app.states.library import LibraryState
from openv_app.tabs import MemoryTabs
from tests.support.factories import video_row
from tests.support.loops import in_own_loop


@dataclass
class Record:
    instance_id: str


@dataclass
class FakeTokenManager:
    connected: dict[str, Record] = field(default_factory=dict)
    instance_id: str = "this-worker"

    @property
    def token_to_socket(self) -> dict[str, Record]:
        return self.connected

    async def is_token_connected(self, token: str) -> bool:
        return token in self.connected


class FakeLibrary:
    def __init__(self) -> None:
        self.videos: list[VideoCard] = []
        self.player_open = False
        self.player = VideoCard()
        self.loaded = True
        self.restored_for: list[str] = []

    async def _restore(self, user_id: str) -> None:
        self.restored_for.append(user_id)
        self.videos, self.loaded = [VideoCard(id="from-the-database")], True

    _apply_change = LibraryState.__dict__["_apply_change"]
    _place_card = LibraryState.__dict__["_place_card"]
    _drop_card = LibraryState.__dict__["_drop_card"]

    async def get_state(self, cls):
        return self


class FakeApp:
    def __init__(self, *tokens: str, failing: set[str] = frozenset()) -> None:
        self.event_namespace = type("Namespace", (), {})()
        self.event_namespace._token_manager = FakeTokenManager({token: Record("this-worker") for token in tokens})
        self.libraries: dict[str, FakeLibrary] = {}
        self.failing = failing
        self.updates = 0

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        if token.ident in self.failing:
            raise RuntimeError("state store unavailable")
        self.updates += 1
        yield self.libraries.setdefault(token.ident, FakeLibrary())


def video(user: str = "u1", status: str = "PROCESSING", progress: int = 50) -> Video:
    return video_row(user_id=user, status=status, progress=progress)


@pytest.fixture(autouse=True)
def plain_cards(monkeypatch):
    async def card_for(video: Video) -> VideoCard:
        return VideoCard(id=str(video.id), status=video.status, progress=video.progress)

    monkeypatch.setattr(cards, "card_for", card_for)


@in_own_loop
async def test_a_change_reaches_every_connected_tab_of_its_owner_only():
    app, tabs = FakeApp("a1", "a2", "b1"), MemoryTabs()
    for user, token in [("u1", "a1"), ("u1", "a2"), ("u2", "b1")]:
        await tabs.add(user, token)
    pusher = live.TabPusher(app, tabs)
    changed = video("u1")
    await live.push_change(pusher, changed)
    await pusher.idle()
    assert [card.id for card in app.libraries["a1"].videos] == [str(changed.id)]
    assert [card.id for card in app.libraries["a2"].videos] == [str(changed.id)]
    assert "b1" not in app.libraries


@in_own_loop
async def test_a_burst_is_one_update_per_tab_and_the_newest_card_wins():
    app, tabs = FakeApp("a1"), MemoryTabs()
    await tabs.add("u1", "a1")
    pusher = live.TabPusher(app, tabs)
    first, other = video(progress=10), video()
    for progress in (10, 40, 70):
        first.progress = progress
        await live.push_change(pusher, first)
    await live.push_change(pusher, other)
    await pusher.idle()
    assert app.updates == 1
    assert {card.id: card.progress for card in app.libraries["a1"].videos} == {str(first.id): 70, str(other.id): 50}


@in_own_loop
async def test_failures_keep_live_tabs_and_closed_tabs_are_forgotten(monkeypatch):
    app, tabs = FakeApp("live", "broken", failing={"broken"}), MemoryTabs()
    for token in ("live", "broken", "closed"):
        await tabs.add("u1", token)
    pusher = live.TabPusher(app, tabs)

    async def signing_fails(video: Video) -> VideoCard:
        raise StorageError("storage is unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(cards, "card_for", signing_fails)
        with pytest.raises(StorageError):  # the job service logs it; nothing is unsubscribed
            await live.push_change(pusher, video())
    assert await tabs.tabs_of("u1") == {"live", "broken", "closed"}

    await live.push_change(pusher, video())
    await pusher.idle()
    # A failed state update keeps the tab; a tab whose socket is gone leaves the registry.
    assert await tabs.tabs_of("u1") == {"live", "broken"}
    assert len(app.libraries["live"].videos) == 1


@in_own_loop
async def test_refresh_is_one_query_per_sweep_for_all_tabs_of_this_process():
    tokens = [f"t{i}" for i in range(50)]
    app, tabs = FakeApp(*tokens), MemoryTabs()
    for index, token in enumerate(tokens):
        await tabs.add(f"user{index % 5}", token)
    changed = [video(f"user{i}") for i in range(5)]

    class CountingQueries:
        calls = 0

        async def changed_since(self, user_ids, since):
            self.calls += 1
            assert user_ids == {f"user{i}" for i in range(5)}
            return changed

    service = SimpleNamespace(queries=CountingQueries())
    refresher = live.ServedTabsRefresher(live.TabPusher(app, tabs), service)
    assert await refresher.refresh_once() == 50  # each tab gets its user's change
    await refresher.pusher.idle()
    assert await refresher.refresh_once() == 0  # already pushed: nothing again
    assert service.queries.calls == 2
    assert all(len(app.libraries[token].videos) == 1 for token in tokens)


@in_own_loop
async def test_memory_registry_drops_tabs_whose_socket_closed():
    tabs = MemoryTabs()
    await tabs.add("u1", "open")
    await tabs.add("u1", "closed")
    await tabs.add("u2", "open")  # the same tab signed in as someone else
    assert await tabs.keep_registered(["open"]) == {"open": "u2"}
    assert await tabs.tabs_of("u1") == set()
    assert await tabs.tabs_of("u2") == {"open"}


@in_own_loop
async def test_a_push_to_a_tab_whose_state_was_lost_loads_its_library_first():
    app, tabs = FakeApp("a1"), MemoryTabs()
    await tabs.add("u1", "a1")
    library = app.libraries["a1"] = FakeLibrary()
    library.loaded = False  # what Reflex hands out for a token whose state Redis lost
    pusher = live.TabPusher(app, tabs)
    pushed = video()
    pusher.push_soon(pushed)
    await pusher.idle()
    assert library.restored_for == ["u1"]
    assert [card.id for card in library.videos] == [str(pushed.id), "from-the-database"]


@in_own_loop
async def test_a_push_never_holds_up_the_change_that_caused_it_and_keeps_each_videos_order():
    app, tabs = FakeApp("a1"), MemoryTabs()
    await tabs.add("u1", "a1")
    slow_lookups = 0
    tabs_of = tabs.tabs_of

    async def frozen_redis(user_id: str) -> set[str]:
        nonlocal slow_lookups
        slow_lookups += 1
        await asyncio.sleep(0.5)
        return await tabs_of(user_id)

    tabs.tabs_of = frozen_redis  # type: ignore[method-assign]
    pusher = live.TabPusher(app, tabs)
    changed = video(progress=10)
    started = time.monotonic()
    for progress in (10, 40, 70):
        changed.progress = progress
        pusher.push_soon(changed.model_copy())
    assert time.monotonic() - started < 0.05  # the webhook's answer did not wait
    await pusher.idle()
    assert [card.progress for card in app.libraries["a1"].videos] == [70]
    assert slow_lookups == 1  # the changes that waited went as one: the newest
