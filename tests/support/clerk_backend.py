"""A stand-in for Clerk's Backend API (`GET /v1/users/{id}`), answering Clerk's User JSON, so the
app's real client (clerk-backend-api) reads verified e-mail addresses from it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET_KEY = "sk_test_standin_secret"


def _email(address_id: str, address: str, verified: bool) -> dict:
    now = int(time.time() * 1000)
    return {
        "id": address_id,
        "object": "email_address",
        "email_address": address,
        "reserved": False,
        "verification": {
            "object": "verification_otp",
            "status": "verified" if verified else "unverified",
            "strategy": "email_code",
            "attempts": 1,
            "expire_at": now + 600_000,
        },
        "linked_to": [],
        "created_at": now,
        "updated_at": now,
    }


def clerk_user(user_id: str, addresses: list[tuple[str, bool]]) -> dict:
    """Clerk's User object for `user_id` with these (address, verified) pairs, the first primary."""
    now = int(time.time() * 1000)
    emails = [_email(f"idn_{user_id}_{index}", address, ok) for index, (address, ok) in enumerate(addresses)]
    return {
        "id": user_id,
        "object": "user",
        "external_id": None,
        "primary_email_address_id": emails[0]["id"] if emails else None,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "username": None,
        "first_name": None,
        "last_name": None,
        "has_image": False,
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "email_addresses": emails,
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "password_enabled": False,
        "two_factor_enabled": False,
        "totp_enabled": False,
        "backup_code_enabled": False,
        "mfa_enabled_at": None,
        "mfa_disabled_at": None,
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "last_sign_in_at": now,
        "banned": False,
        "locked": False,
        "lockout_expires_in_seconds": None,
        "verification_attempts_remaining": 100,
        "updated_at": now,
        "created_at": now,
        "delete_self_enabled": True,
        "create_organization_enabled": True,
        "last_active_at": now,
        "legal_accepted_at": None,
    }


@dataclass
class ClerkBackend:
    """Users by id; `requests` counts the lookups, `down` makes every answer a 503."""

    users: dict[str, dict] = field(default_factory=dict)
    requests: int = 0
    down: bool = False
    url: str = ""  # set once served: …/v1

    def settings(self) -> dict[str, str]:
        """The app's settings to read users from this stand-in."""
        return {"clerk_secret_key": SECRET_KEY, "clerk_api_url": self.url}

    def add(self, user_id: str, *addresses: tuple[str, bool]) -> None:
        self.users[user_id] = clerk_user(user_id, list(addresses))

    def app(self) -> Starlette:
        async def get_user(request: Request) -> JSONResponse:
            self.requests += 1
            if request.headers.get("authorization") != f"Bearer {SECRET_KEY}":
                return JSONResponse({"errors": [{"message": "Unauthorized", "code": "authentication_invalid"}]}, 401)
            if self.down:
                return JSONResponse({"errors": [{"message": "unavailable", "code": "internal"}]}, 503)
            user = self.users.get(request.path_params["user_id"])
            if user is None:
                return JSONResponse({"errors": [{"message": "not found", "code": "resource_not_found"}]}, 404)
            return JSONResponse(user)

        return Starlette(routes=[Route("/v1/users/{user_id}", get_user)])
