"""How often the studio loads the library (openv_app/states/library.py): once per visit, although
each visit asks more than once (the page's on_load and the signed-in view's mount, in either
order, and with Clerk the mount again once the session is verified), and again after a
reconnect or a sign-in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from openv_app.services.errors import AuthError
from openv_app.states import library
from openv_app.states.library import VISIT_PAIRING_S, LibraryState
from tests.support.loops import in_own_loop

ON_LOAD, MOUNT = LibraryState.load_library.fn, LibraryState.load_library_on_mount.fn


class VisitProbe:
    """Stands in for a tab's state: the real handlers run, loads are counted."""

    def __init__(self) -> None:
        self.user: str | None = "u1"
        self.socket = "socket-1"
        self.loads: list[str] = []
        self._loaded_on, self._mount_loaded = ("", ""), ("", "", 0.0)

    @property
    def router(self) -> SimpleNamespace:
        return SimpleNamespace(session=SimpleNamespace(session_id=self.socket, client_token="tab-1"))

    def _current_user(self) -> str:
        if self.user is None:
            raise AuthError("Your session has ended; please sign in again.")
        return self.user

    async def _register_and_load(self, user: str) -> None:
        self.loads.append(user)

    _user_and_socket = LibraryState.__dict__["_user_and_socket"]
    _load_for_visit = LibraryState.__dict__["_load_for_visit"]

    async def ask(self, *handlers) -> list[str]:
        for handler in handlers:
            await handler(self)
        return self.loads


@pytest.mark.parametrize("order", [(ON_LOAD, MOUNT), (MOUNT, ON_LOAD)], ids=["on_load first", "mount first"])
@in_own_loop
async def test_a_visit_loads_once_whichever_asks_first(order):
    assert await VisitProbe().ask(*order) == ["u1"]


@pytest.mark.parametrize(
    "order", [(MOUNT, ON_LOAD, MOUNT), (ON_LOAD, MOUNT, MOUNT)], ids=["mount first", "on_load first"]
)
@in_own_loop
async def test_a_clerk_visit_whose_view_mounts_again_loads_once(order):
    """With Clerk the signed-in view shows before hydration, gives way to the sign-in panel until
    the session token is verified, then mounts again."""
    assert await VisitProbe().ask(*order) == ["u1"]


@in_own_loop
async def test_each_visit_on_one_connection_loads_once():
    assert await VisitProbe().ask(ON_LOAD, MOUNT, MOUNT, ON_LOAD, ON_LOAD, MOUNT) == ["u1"] * 3


@in_own_loop
async def test_a_reconnect_loads_again():
    tab = VisitProbe()
    await tab.ask(ON_LOAD, MOUNT)
    tab.socket = "socket-2"  # a reconnect runs the page's on_load alone
    assert await tab.ask(ON_LOAD) == ["u1"] * 2
    tab.socket = "socket-3"
    assert await tab.ask(MOUNT, ON_LOAD) == ["u1"] * 3


@in_own_loop
async def test_a_sign_in_loads_and_a_different_user_is_never_paired():
    tab = VisitProbe()
    tab.user = None
    assert await tab.ask(ON_LOAD, MOUNT) == []  # signed out: the sign-in panel shows
    tab.user = "u1"
    assert await tab.ask(MOUNT) == ["u1"]  # the signed-in view appeared
    tab.user = "u2"
    assert await tab.ask(ON_LOAD) == ["u1", "u2"]


@in_own_loop
async def test_a_mount_that_no_on_load_follows_leaves_a_later_visit_alone(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(library, "time", SimpleNamespace(time=lambda: clock[0]))
    tab = VisitProbe()
    tab.user = None
    await tab.ask(MOUNT, ON_LOAD)  # Clerk, signed out
    tab.user = "u1"
    assert await tab.ask(MOUNT) == ["u1"]  # signed in: the view mounts again, no on_load follows
    clock[0] += VISIT_PAIRING_S
    assert await tab.ask(ON_LOAD, MOUNT) == ["u1"] * 2  # back to the studio from Explore
