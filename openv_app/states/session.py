"""Who is signed in, resolved on the server (never from anything the browser sets)."""

from __future__ import annotations

import time

import reflex as rx

from openv_app.services.auth import DEV_USER_ID
from openv_app.services.clerk_auth import verify_session_token
from openv_app.services.errors import AuthError
from openv_app.settings import get_settings

# Clerk tokens live ~60 s and are refreshed every 30 s; a little grace covers a slow refresh.
SESSION_GRACE_S = 60


class SessionState(rx.State):
    """Who is signed in, resolved on the server (never from anything the browser sets).

    With Clerk, the browser hands over its session token (ClerkJS `getToken()`) on load and
    every 30 s; the server verifies it and keeps the user id in a backend-only var. What a
    signed-in user sees loads when it appears (the studio's signed-in view loads the library
    on mount), so this state knows none of the states built on it.
    """

    dev_mode: bool = False
    clerk_enabled: bool = False
    signed_in: bool = False
    _user_id: str = ""
    _session_valid_until: float = 0.0

    def _current_user(self) -> str:
        settings = get_settings()
        if settings.dev_auth:
            return DEV_USER_ID
        if not self._user_id or time.time() > self._session_valid_until:
            raise AuthError("Your session has ended; please sign in again.")
        return self._user_id

    @rx.event
    def load_session(self):
        settings = get_settings()
        self.dev_mode, self.clerk_enabled = settings.dev_auth, not settings.dev_auth
        self.signed_in = settings.dev_auth
        if self.clerk_enabled:
            return SessionState.refresh_session

    def _resume_session(self, user_id: str) -> None:
        """A tab whose state Redis lost, known to have been signed in as `user_id` (the tab
        registry holds only users verified here): signed in again for one grace period, after
        which the browser's next token refresh must verify the user as usual."""
        settings = get_settings()
        self.dev_mode, self.clerk_enabled = settings.dev_auth, not settings.dev_auth
        self.signed_in = True
        if self.clerk_enabled:
            self._user_id, self._session_valid_until = user_id, time.time() + SESSION_GRACE_S

    @rx.event
    def refresh_session(self):
        if self.clerk_enabled:
            return rx.call_script("window.openvSessionToken()", callback=SessionState.receive_session_token)

    @rx.event
    async def receive_session_token(self, token: str | None):
        try:
            identity = await verify_session_token(get_settings(), token or "")
        except AuthError:
            self._user_id, self.signed_in = "", False
            return None
        newly_signed_in = not self.signed_in
        self._user_id, self.signed_in = identity.user_id, True
        self._session_valid_until = identity.expires_at + SESSION_GRACE_S
        # The signed-in view (with the user button's box) renders with this update.
        return rx.call_script("window.openvMountUserButton()") if newly_signed_in else None

    @rx.event
    def sign_out(self):
        self._user_id, self.signed_in = "", False
        return rx.call_script("window.Clerk && window.Clerk.signOut()")
