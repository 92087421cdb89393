"""Who is asking: resolves the user server-side from a session token.

Dev mode (no Clerk keys) is a single local user; otherwise the Clerk session JWT is verified.
"""

from __future__ import annotations

from openv_app.services.errors import AuthError
from openv_app.settings import Settings

DEV_USER_ID = "dev-user"


async def resolve_user(settings: Settings, authorization: str | None) -> str:
    """The user id for an `Authorization: Bearer <token>` header value (or a bare token)."""
    if settings.dev_auth:
        return DEV_USER_ID
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token:
        raise AuthError("sign-in required")
    from openv_app.services.clerk_auth import verify_session_token

    return (await verify_session_token(settings, token)).user_id
