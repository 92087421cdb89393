"""A user's verified e-mail address, from Clerk's Backend API (clerk-backend-api's `users.get`).

Asked once per user, when the app first sees them (`Accounts.get`): the access policy's
allowlist is matched against it, and the admin page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from clerk_backend_api import Clerk
from clerk_backend_api.models import ClerkBaseError, User
from clerk_backend_api.utils.retries import BackoffStrategy, RetryConfig

from openv_app.services.errors import UpstreamUnavailable
from openv_app.settings import Settings

TIMEOUT_MS = 5000
# The SDK's default retries a 5xx for up to an hour; a user is waiting on this answer, so a
# few quick tries within 3 s, then "try again".
RETRIES = RetryConfig("backoff", BackoffStrategy(200, 1000, 2.0, 3000, jitter_ms=100), retry_connection_errors=True)


def verified_primary_email(user: User) -> str | None:
    """The primary address if Clerk verified it, else any verified one, else None."""
    verified = [
        address
        for address in user.email_addresses
        if address.verification is not None and getattr(address.verification, "status", None) == "verified"
    ]
    primary = [address for address in verified if address.id == user.primary_email_address_id]
    chosen = (primary or verified)[:1]
    return chosen[0].email_address.lower() if chosen else None


@dataclass
class ClerkUsers:
    secret_key: str
    api_url: str | None = None

    async def verified_email(self, user_id: str) -> str | None:
        try:
            async with Clerk(
                bearer_auth=self.secret_key, server_url=self.api_url, timeout_ms=TIMEOUT_MS, retry_config=RETRIES
            ) as clerk:
                user = await clerk.users.get_async(user_id=user_id)
        except (ClerkBaseError, httpx.HTTPError) as error:
            raise UpstreamUnavailable(f"Could not read the account from Clerk ({error}); try again.") from error
        return verified_primary_email(user)


def clerk_email_lookup(settings: Settings) -> ClerkUsers | None:
    """Clerk's Backend API when the app has Clerk's secret key (a JWT key alone verifies
    sessions offline but cannot read users)."""
    if settings.dev_auth or settings.clerk_secret_key is None:
        return None
    return ClerkUsers(settings.clerk_secret_key.get_secret_value(), settings.clerk_api_url)
