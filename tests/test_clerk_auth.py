"""Clerk session token verification: each kind of bad token gets the right outcome."""

from __future__ import annotations

import base64

import pytest

from openv_app.services.auth import AuthError, resolve_user
from openv_app.services.clerk_auth import frontend_api_host, verify_session_token
from openv_app.settings import Settings
from tests.support.clerk_tokens import TokenMaker
from tests.support.loops import in_own_loop


@pytest.fixture(scope="module")
def maker() -> TokenMaker:
    return TokenMaker()


@pytest.fixture
def settings(maker) -> Settings:
    return Settings(_env_file=None, **maker.settings())


@in_own_loop
async def test_valid_token_gives_the_user(settings, maker):
    identity = await verify_session_token(settings, maker.token(sub="user_42"))
    assert identity.user_id == "user_42" and identity.expires_at > 0
    assert await resolve_user(settings, f"Bearer {maker.token(sub='user_42')}") == "user_42"


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda m: m.token(lifetime_s=-120), "expired"),
        (lambda m: m.token(not_before_s=600), "not yet valid"),
        (lambda m: m.token(iss="https://clerk.someone-else.test"), "another Clerk instance"),
        (lambda m: m.token(azp="https://evil.test"), "authorized part"),
        (lambda m: m.token()[:-4] + ("AAAA" if not m.token().endswith("AAAA") else "BBBB"), "signature"),
        (lambda m: TokenMaker().token(), "signature"),
        (lambda m: m.token(sub=""), "no user"),
        (lambda m: m.token(without=("sub",)), "no user"),
        (lambda m: m.token(without=("exp",)), "no expiry"),
        (lambda m: "not-a-jwt", "invalid"),
    ],
)
@in_own_loop
async def test_bad_tokens_are_refused_with_a_reason(settings, maker, make, reason):
    with pytest.raises(AuthError, match=f"(?i){reason}"):
        await verify_session_token(settings, make(maker))


@in_own_loop
async def test_missing_token_is_refused(settings):
    with pytest.raises(AuthError, match="sign-in required"):
        await resolve_user(settings, None)
    with pytest.raises(AuthError):
        await resolve_user(settings, "Bearer ")


@in_own_loop
async def test_dev_mode_only_without_clerk_keys(settings):
    assert not settings.dev_auth
    assert Settings(_env_file=None).dev_auth
    assert await resolve_user(Settings(_env_file=None), None) == "dev-user"


def test_publishable_key_names_the_frontend_api():
    key = "pk_test_" + base64.b64encode(b"clerk.openv.test$").decode().rstrip("=")
    assert frontend_api_host(key) == "clerk.openv.test"
