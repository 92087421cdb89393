"""Clerk-mode callers of the API for the access and admin tests: tokens for any user id, the
first admin made as an operator would, and the calls those tests repeat."""

from __future__ import annotations

from typing import Any

import httpx

from openv_app.manage import make_admin
from tests.support.apps import AppUnderTest
from tests.support.clerk_backend import ClerkBackend
from tests.support.clerk_tokens import TokenMaker

MAKER = TokenMaker()
PROMPT = {"prompt": "a lighthouse at dusk", "num_frames": 17, "steps": 2}


def as_user(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {MAKER.token(sub=user_id)}"}


def submit(app: AppUnderTest, user_id: str) -> httpx.Response:
    return httpx.post(f"{app.url}/api/runpod", json=PROMPT, headers=as_user(user_id), timeout=30)


def account(app: AppUnderTest, user_id: str) -> dict[str, Any]:
    response = httpx.get(f"{app.url}/api/account", headers=as_user(user_id), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def admin_call(app: AppUnderTest, method: str, path: str, user_id: str = "user_admin", **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{app.url}/api/admin{path}", headers=as_user(user_id), timeout=30, **kwargs)


def first_admin(app: AppUnderTest, clerk_backend: ClerkBackend, user_id: str = "user_admin") -> None:
    """The operator's first admin: signs in once, then `manage.py make-admin`."""
    clerk_backend.add(user_id, (f"{user_id}@ops.example", True))
    account(app, user_id)
    make_admin(app.database_url, f"{user_id}@ops.example")
