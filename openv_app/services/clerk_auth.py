"""Verifies Clerk session tokens with clerk-backend-api.

Networkless when CLERK_JWT_KEY (the instance's PEM public key) is set; otherwise the SDK's
async variant fetches the JWKS with CLERK_SECRET_KEY without blocking the event loop, and
caches the keys (5 minutes, re-fetched at once when a token names an unknown key). The SDK checks signature, expiry, not-before and the
authorized party (azp); it does not check the issuer, so that is checked here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from clerk_backend_api.security import authenticate_request_async
from clerk_backend_api.security.types import AuthenticateRequestOptions

from openv_app.services.errors import AuthError
from openv_app.settings import Settings


@dataclass(frozen=True)
class ClerkIdentity:
    user_id: str
    expires_at: int


@dataclass(frozen=True)
class _BearerRequest:
    """The SDK reads the token from an object with `.headers` (key exactly `Authorization`)."""

    headers: dict[str, str]


async def verify_session_token(settings: Settings, token: str) -> ClerkIdentity:
    options = AuthenticateRequestOptions(
        secret_key=settings.clerk_secret_key.get_secret_value() if settings.clerk_secret_key else None,
        jwt_key=settings.clerk_jwt_key,
        authorized_parties=settings.clerk_authorized_parties or None,
        accepts_token=["session_token"],
    )
    state = await authenticate_request_async(_BearerRequest({"Authorization": f"Bearer {token}"}), options)
    if not state.is_signed_in:
        raise AuthError(f"invalid session: {state.message or 'not signed in'}")
    payload = state.payload or {}
    if settings.clerk_issuer and payload.get("iss") != settings.clerk_issuer:
        raise AuthError("invalid session: the token was issued by another Clerk instance")
    if not isinstance(payload.get("sub"), str) or not payload["sub"]:
        raise AuthError("invalid session: the token names no user")
    # PyJWT checks `exp` only when the token has one: a token without expiry is refused here.
    if not isinstance(payload.get("exp"), int):
        raise AuthError("invalid session: the token has no expiry")
    return ClerkIdentity(user_id=payload["sub"], expires_at=payload["exp"])


def frontend_api_host(publishable_key: str) -> str:
    """Clerk's Frontend API host, encoded in the publishable key (`pk_live_<base64(host$)>`)."""
    encoded = publishable_key.split("_", 2)[-1]
    decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return decoded.rstrip("$")


def browser_clerk_host(settings: Settings) -> str | None:
    """The Frontend API host the browser loads ClerkJS from, or None when it loads no Clerk
    (dev sign-in, or no publishable key): the condition `clerk_scripts()` uses."""
    if settings.dev_auth or not settings.clerk_publishable_key:
        return None
    return frontend_api_host(settings.clerk_publishable_key)
