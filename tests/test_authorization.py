"""Authorization probe: user B can never read, list, cancel, retry, download or delete user A's
video, through any API route or any state event; an unauthenticated caller gets 401."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from openv_app.services.errors import AuthError
from openv_app.services.signing import webhook_token
from openv_app.states import library, session, studio
from openv_app.states.cards import VideoCard
from openv_app.states.library import LibraryState
from openv_app.states.studio import GenerateState
from tests.support.browser import ARTIFACTS
from tests.support.clerk_tokens import TokenMaker
from tests.support.handlers import quick_video_handler
from tests.support.loops import run_sync

REQUEST = {"prompt": "user A's private video", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 2}


@pytest.fixture(scope="module")
def maker() -> TokenMaker:
    return TokenMaker()


@pytest.fixture
def clerk_app(app_factory, runpod_factory, maker):
    return app_factory(runpod_factory(quick_video_handler, concurrency=0), **maker.settings())


def bearer(maker: TokenMaker, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {maker.token(sub=user)}"}


def video_routes(video_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/api/runpod/{video_id}"),
        ("POST", f"/api/runpod/{video_id}/cancel"),
        ("POST", f"/api/runpod/{video_id}/retry"),
        ("GET", f"/api/videos/{video_id}"),
        ("DELETE", f"/api/videos/{video_id}"),
    ]


def test_api_probe(clerk_app, maker):
    app = clerk_app
    created = httpx.post(f"{app.url}/api/runpod", json=REQUEST, headers=bearer(maker, "user_a"))
    assert created.status_code == 201
    video_id = created.json()["id"]
    rows = []

    for method, path in [
        ("POST", "/api/runpod"),
        ("GET", "/api/runpod"),
        ("GET", "/api/videos"),
        *video_routes(video_id),
    ]:
        anonymous = httpx.request(method, f"{app.url}{path}", json=REQUEST if method == "POST" else None)
        assert anonymous.status_code == 401, (method, path)
        expired = httpx.request(
            method,
            f"{app.url}{path}",
            json=REQUEST if method == "POST" else None,
            headers={"Authorization": f"Bearer {maker.token(sub='user_a', lifetime_s=-60)}"},
        )
        assert expired.status_code == 401, (method, path)
        rows.append((f"{method} {path.replace(video_id, '{A}')}", "no token", anonymous.status_code))

    for method, path in video_routes(video_id):
        as_b = httpx.request(
            method, f"{app.url}{path}", headers=bearer(maker, "user_b"), json={} if method == "POST" else None
        )
        assert as_b.status_code == 404, (method, path, as_b.text)
        rows.append((f"{method} {path.replace(video_id, '{A}')}", "user B", as_b.status_code))

    listing = httpx.get(f"{app.url}/api/videos", headers=bearer(maker, "user_b"))
    assert listing.status_code == 200 and listing.json()["videos"] == []
    rows.append(("GET /api/videos", "user B", "200, A's video absent"))

    # The webhook needs the per-video token, not a user; B holding A's id learns nothing.
    forged = httpx.post(
        f"{app.url}/api/runpod/webhook",
        params={"video_id": video_id, "token": webhook_token("guess", video_id)},
        json={"id": "x", "status": "COMPLETED"},
    )
    assert forged.status_code == 401
    rows.append(("POST /api/runpod/webhook", "forged token", forged.status_code))

    # A still sees an untouched video, with signed URLs only A was handed.
    mine = httpx.get(f"{app.url}/api/videos/{video_id}", headers=bearer(maker, "user_a")).json()
    assert mine["status"] == "PENDING"
    write_table("api", rows)


class ProbeState:
    """Stands in for a state instance: the real event handler code runs against it."""

    def __init__(self, user: str | None) -> None:
        self.user = user
        self.videos: list[VideoCard] = []
        self.next_cursor = "4102444800000000_ffffffff-ffff-ffff-ffff-ffffffffffff"  # 2100-01-01
        self.action_error = ""
        self.player, self.player_open = VideoCard(), False
        self.confirm_delete_id = ""
        self.loaded = False
        session = type("Session", (), {"client_token": "probe-tab", "session_id": "probe-socket"})()
        self.router = type("Router", (), {"session": session})()
        self.in_flight_count = 0
        self.usage = ""
        self._loaded_on, self._mount_loaded = ("", ""), ("", "", 0.0)

    def _current_user(self) -> str:
        if self.user is None:
            raise AuthError("Your session has ended; please sign in again.")
        return self.user

    _act = LibraryState.__dict__["_act"]
    _show_video = LibraryState.__dict__["_show_video"]
    _place_card = LibraryState.__dict__["_place_card"]
    _apply_change = LibraryState.__dict__["_apply_change"]
    _refresh_usage = LibraryState.__dict__["_refresh_usage"]
    _load_first_page = LibraryState.__dict__["_load_first_page"]
    _register_and_load = LibraryState.__dict__["_register_and_load"]
    _user_and_socket = LibraryState.__dict__["_user_and_socket"]
    _load_for_visit = LibraryState.__dict__["_load_for_visit"]
    _drop_card = LibraryState.__dict__["_drop_card"]

    async def get_state(self, cls):
        raise AssertionError("the probe must be refused before touching another state")


class FormProbe:
    can_submit, submitting, seed_locked = True, False, True
    form_error = ""

    def __init__(self, user: str | None = None) -> None:
        self.user = user
        self.field_errors: dict[str, str] = {}

    def _current_user(self) -> str:
        if self.user is None:
            raise AuthError("Your session has ended; please sign in again.")
        return self.user

    def _request(self) -> dict:
        return REQUEST


async def drain(generator) -> None:
    async for _ in generator:
        pass


def run_event(handler, state, *args, app=None):
    """Run an event handler's code; on the app's event loop when it touches the database."""
    result = handler.fn(state, *args)
    if asyncio.iscoroutine(result):
        return app.run(result) if app else run_sync(result)
    return result


@pytest.mark.parametrize("who", ["user_b", None])
def test_state_event_probe(clerk_app, maker, monkeypatch, who):
    app = clerk_app
    for module in (library, studio):
        monkeypatch.setattr(module, "get_job_service", lambda: app.service)
    video_id = httpx.post(f"{app.url}/api/runpod", json=REQUEST, headers=bearer(maker, "user_a")).json()["id"]
    refused = "video not found" if who else "sign in again"
    rows = []

    for name, handler, args in [
        ("LibraryState.cancel", LibraryState.cancel, (video_id,)),
        ("LibraryState.retry", LibraryState.retry, (video_id,)),
        ("LibraryState.load_more", LibraryState.load_more, ()),
    ]:
        probe = ProbeState(who)
        run_event(handler, probe, *args, app=app)
        if name.endswith("load_more") and who:
            assert probe.action_error == ""  # B's own (empty) next page
        else:
            assert refused in probe.action_error.lower(), name
        assert probe.videos == []
        rows.append((name, who or "no session", probe.action_error or "nothing of A's returned"))

    form = FormProbe(who)
    run_event(GenerateState.reuse, form, video_id, app=app)
    assert refused in form.form_error.lower()
    rows.append(("GenerateState.reuse", who or "no session", form.form_error))

    probe = ProbeState(who)
    probe.confirm_delete_id = video_id
    run_event(LibraryState.confirm_delete, probe, app=app)
    assert refused in probe.action_error.lower()
    rows.append(("LibraryState.confirm_delete", who or "no session", probe.action_error))

    for load in (LibraryState.load_library, LibraryState.load_library_on_mount):
        probe = ProbeState(who)
        run_event(load, probe, app=app)
        assert probe.videos == []
        rows.append((f"LibraryState.{load.fn.__name__}", who or "no session", "A's video absent"))

    if who is None:
        form = FormProbe()
        app.run(drain(GenerateState.submit.fn(form)))
        assert "sign in again" in form.form_error.lower()
        rows.append(("GenerateState.submit", "no session", form.form_error))

    still_there = httpx.get(f"{app.url}/api/videos/{video_id}", headers=bearer(maker, "user_a")).json()
    assert still_there["status"] == "PENDING"
    write_table(f"state-{who or 'anonymous'}", rows)


def write_table(name: str, rows: list[tuple]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    lines = ["| route or event | caller | outcome |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    (ARTIFACTS / f"authorization-probe-{name}.md").write_text("\n".join(lines) + "\n")


def test_session_token_from_the_browser_is_verified_on_the_server(monkeypatch, maker):
    from openv_app.settings import Settings
    from openv_app.states.session import SessionState

    settings = Settings(_env_file=None, **maker.settings())
    monkeypatch.setattr(session, "get_settings", lambda: settings)

    class SessionProbe:
        signed_in, _user_id, _session_valid_until = False, "", 0.0
        _current_user = SessionState.__dict__["_current_user"]

    probe = SessionProbe()
    run_event(SessionState.receive_session_token, probe, maker.token(sub="user_a"))
    assert probe.signed_in and probe._current_user() == "user_a"
    for forged in (TokenMaker().token(sub="user_a"), maker.token(sub="user_a", azp="https://evil.test"), None):
        run_event(SessionState.receive_session_token, probe, forged)
        assert not probe.signed_in
        with pytest.raises(AuthError):
            probe._current_user()
