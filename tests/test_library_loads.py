"""How often the studio loads the library (openv_app/states/library.py): once per visit, although
each visit asks twice (the page's on_load and the signed-in view's mount, in either order), and
again after a reconnect or a sign-in, which ask once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from openv_app.services.errors import AuthError
from openv_app.states.library import LibraryState
from tests.support.loops import in_own_loop

ON_LOAD, MOUNT = LibraryState.load_library.fn, LibraryState.load_library_on_mount.fn


class VisitProbe:
    """Stands in for a tab's state: the real handlers run, loads are counted."""

    def __init__(self) -> None:
        self.user: str | None = "u1"
        self.socket = "socket-1"
        self.loads: list[str] = []
        self._unpaired_load = ("", "", "")

    @property
    def router(self) -> SimpleNamespace:
        return SimpleNamespace(session=SimpleNamespace(session_id=self.socket, client_token="tab-1"))

    def _current_user(self) -> str:
        if self.user is None:
            raise AuthError("Your session has ended; please sign in again.")
        return self.user

    async def _register_and_load(self, user: str) -> None:
        self.loads.append(user)

    _load_once_per_visit = LibraryState.__dict__["_load_once_per_visit"]

    async def ask(self, *handlers) -> list[str]:
        for handler in handlers:
            await handler(self)
        return self.loads


@pytest.mark.parametrize("order", [(ON_LOAD, MOUNT), (MOUNT, ON_LOAD)], ids=["on_load first", "mount first"])
@in_own_loop
async def test_a_visit_loads_once_whichever_asks_first(order):
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
