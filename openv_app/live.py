"""Live updates: a changed video reaches every open tab of its owner, whichever app process
holds the tab's websocket.

- `push_change` runs after the job service changes a video (a webhook, the poller, a user
  action, in any process): it builds the card once, outside any state lock, then updates every
  tab of the owner with `app.modify_state`. With Redis, Reflex's token manager routes an update
  for a tab on another worker to that worker.
- `refresh_served_tabs` is the safety net for a missed push, once per interval per process: one
  query for the videos of the users whose tabs this process serves that changed since the last
  sweep, however many tabs that is. The same sweep writes those tabs into the registry again,
  after Redis restarted empty restores what Reflex kept there (`relink_reflex_after_redis_loss`;
  a tab whose state was lost is rebuilt by its next push), and while Redis is away backs off.
- With Redis, `reflex_tokens.forget_closed_tabs` removes a tab from the registry when Reflex
  deletes the websocket's record; without Redis the refresh prunes tabs whose socket is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import reflex as rx

from openv_app.metrics import TAB_PUSHES, observe_open_tabs
from openv_app.models import Video
from openv_app.reflex_tokens import relink_reflex_after_redis_loss, token_manager
from openv_app.services.jobs import JobService
from openv_app.states.cards import CardChange, card_or_removal
from openv_app.states.library import LibraryState
from openv_app.tabs import REDIS_DOWN, TabRegistry, redis_outage

log = logging.getLogger(__name__)

REFRESH_INTERVAL_S = 2.0
# While Redis is away the sweep waits twice as long each time, up to this.
REFRESH_BACKOFF_MAX_S = 5.0
# Changes of different videos are pushed this many at a time per process.
PUSH_LANES = 8
# Rows are stamped by the clocks of every app host: look back a little further than one
# interval, and skip what was already pushed.
REFRESH_OVERLAP = timedelta(seconds=10)


def _video_id(change: CardChange) -> str:
    return change if isinstance(change, str) else change.id


class TabPusher:
    """Per process: sends changes to tabs, coalescing a burst into one state update per tab.

    Each tab has at most one update in flight; changes that arrive meanwhile wait in `pending`
    (the newest per video wins) and go together in the next one. A burst of N changes for a
    user with T tabs costs about T state updates instead of N × T.
    """

    def __init__(self, app: rx.App, tabs: TabRegistry) -> None:
        self.app, self.tabs = app, tabs
        self._pending: dict[str, dict[str, CardChange]] = {}
        self._draining: dict[str, asyncio.Task] = {}
        self._lanes: list[_Lane] = []

    def push_soon(self, video: Video) -> None:
        """Push a changed video to its owner's tabs without waiting for it: the webhook or report
        that changed it answers at once however slow Redis or the storage's URL signing is
        (RunPod counts a webhook answered after 10 s as failed). The changes of one video stay in
        order (one lane per video); while a lane is busy only a video's newest change waits."""
        if not self._lanes:
            self._lanes = [_Lane(self) for _ in range(PUSH_LANES)]
        self._lanes[video.id.int % PUSH_LANES].put(video)

    def send(self, token: str, change: CardChange) -> None:
        self._pending.setdefault(token, {})[_video_id(change)] = change
        if token not in self._draining:
            self._draining[token] = asyncio.create_task(self._drain(token))

    async def _drain(self, token: str) -> None:
        try:
            while changes := self._pending.pop(token, None):
                try:
                    if not await token_manager(self.app).is_token_connected(token):
                        await self.tabs.remove(token)
                        continue
                    await self._apply(token, list(changes.values()))
                    TAB_PUSHES.inc()
                except Exception:  # the tab stays registered: the next change or refresh reaches it
                    log.exception("pushing %d changes to tab %s failed", len(changes), token)
        finally:
            # No await since the last empty pop: a change sent from now on starts a new drain.
            self._draining.pop(token, None)

    async def _apply(self, token: str, changes: list[CardChange]) -> None:
        """Only in-memory work happens under the tab's state lock: the cards are built. The
        exception: a tab whose state Redis lost is loaded whole first (rare, and once)."""
        async with self.app.modify_state(rx.BaseStateToken(ident=token, cls=LibraryState)) as root:
            library = await root.get_state(LibraryState)
            if not library.loaded and (user_id := (await self.tabs.users_of([token])).get(token)):
                # Otherwise the push would leave the tab with only the pushed cards.
                await library._restore(user_id)
            for change in changes:
                library._apply_change(change)

    async def idle(self) -> None:
        """Wait until every change sent so far has been applied (for tests and benchmarks)."""
        while busy := [lane.task for lane in self._lanes if lane.task and not lane.task.done()]:
            await asyncio.gather(*busy, return_exceptions=True)
        while self._draining:
            await asyncio.gather(*self._draining.values(), return_exceptions=True)


class _Lane:
    """Changed videos waiting to be pushed, newest per video, handled one at a time."""

    def __init__(self, pusher: TabPusher) -> None:
        self.pusher = pusher
        self.waiting: dict[uuid.UUID, Video] = {}
        self.task: asyncio.Task | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def put(self, video: Video) -> None:
        self.waiting[video.id] = video
        if not self.busy:
            self.task = asyncio.create_task(self._push_waiting())

    async def _push_waiting(self) -> None:
        while self.waiting:
            video = self.waiting.pop(next(iter(self.waiting)))
            try:
                await push_change(self.pusher, video)
            except REDIS_DOWN as error:  # the tabs' refresh brings the change once Redis is back
                redis_outage.failed(error)
            except Exception:  # the tabs' refresh brings the change within a few seconds
                log.exception("pushing video %s to its tabs failed", video.id)


async def push_change(pusher: TabPusher, video: Video) -> None:
    """Apply a changed video to every open tab of its owner, in any process."""
    tokens = await pusher.tabs.tabs_of(video.user_id)
    if tokens:
        change = await card_or_removal(video)  # built once, for every tab
        for token in tokens:
            pusher.send(token, change)


class ServedTabsRefresher:
    """Per process: re-reads what changed for the users of the tabs this process serves."""

    def __init__(self, pusher: TabPusher, service: JobService) -> None:
        self.pusher, self.app, self.tabs, self.service = pusher, pusher.app, pusher.tabs, service
        self._since = datetime.now(UTC)
        self._pushed: dict[uuid.UUID, datetime] = {}

    def _local_tokens(self) -> list[str]:
        manager = token_manager(self.app)
        return [
            token
            for token, record in list(manager.token_to_socket.items())
            if record.instance_id == manager.instance_id
        ]

    async def refresh_once(self) -> int:
        """One sweep; returns how many changes it pushed."""
        served = self._local_tokens()
        observe_open_tabs(len(served))
        users_by_token = await self.tabs.keep_registered(served)
        if await self.tabs.was_reset():
            await relink_reflex_after_redis_loss(self.app, served)
            await self.tabs.note_restored()  # only now: a relink cut short is tried again
        if not users_by_token:
            return 0
        started = datetime.now(UTC)
        videos = await self.service.queries.changed_since(set(users_by_token.values()), self._since - REFRESH_OVERLAP)
        self._since = started
        pushed = 0
        for video in videos:
            if self._pushed.get(video.id) == video.updated_at:
                continue
            change = await card_or_removal(video)
            for token, user_id in users_by_token.items():
                if user_id == video.user_id:
                    self.pusher.send(token, change)
                    pushed += 1
            self._pushed[video.id] = video.updated_at
        self._forget_old_pushes(started)
        return pushed

    def _forget_old_pushes(self, now: datetime) -> None:
        horizon = now - 2 * REFRESH_OVERLAP
        self._pushed = {video_id: at for video_id, at in self._pushed.items() if at >= horizon}

    async def run(self) -> None:
        pause = REFRESH_INTERVAL_S
        while True:
            await asyncio.sleep(pause)
            try:
                await self.refresh_once()
                redis_outage.recovered()
                pause = REFRESH_INTERVAL_S
            except REDIS_DOWN as error:
                redis_outage.failed(error)
                pause = min(2 * pause, REFRESH_BACKOFF_MAX_S)
            except Exception:
                log.exception("refreshing open tabs failed")
                pause = REFRESH_INTERVAL_S


def background(coroutine_function: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A lifespan task that restarts after an error instead of dying silently, waiting twice as
    long after each quick failure (up to 30 s); Redis being away is logged once, not per try."""

    async def run_forever() -> None:
        quick_failures = 0
        while True:
            started = time.monotonic()
            try:
                await coroutine_function()
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as error:
                redis_outage.failed(error)
            except Exception:
                log.exception("%s stopped; restarting", coroutine_function.__name__)
            ran = time.monotonic() - started
            quick_failures = 1 if ran > 60 else quick_failures + 1
            await asyncio.sleep(max(0.0, min(2.0 ** (quick_failures - 1), 30.0) - ran))

    run_forever.__name__ = coroutine_function.__name__
    return run_forever
