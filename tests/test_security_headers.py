"""Security headers and caching: the policy built from the settings, the choices per response,
and the headers on the API served over HTTP as the Reflex app mounts it. The production build
in a real browser is in tests/test_e2e_security_headers.py."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from openv_app.api.security_headers import (
    DOCS_PAGES,
    IMMUTABLE,
    SecurityHeaders,
    cache_control,
    content_security_policy,
    inline_script_hashes,
    public_location,
    security_headers,
)
from openv_app.settings import Settings
from tests.support.loops import run_sync

CLERK_HOST = "clerk.openv.example.com"
CLERK = {
    "clerk_secret_key": "sk_test_x",
    "clerk_publishable_key": "pk_test_" + base64.b64encode(f"{CLERK_HOST}$".encode()).decode(),
    "clerk_issuer": f"https://{CLERK_HOST}",
    "clerk_authorized_parties": ["https://openv.example.com"],
}
SUPABASE = {
    "storage_backend": "supabase",
    "supabase_url": "https://abcd.supabase.co",
    "supabase_service_role_key": "service-role",
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def directives(csp: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in csp.split("; "))}


# --- the policy ------------------------------------------------------------------------------


def test_dev_policy_allows_only_the_app_itself():
    assert directives(content_security_policy(settings(), ["'sha256-abc='"])) == {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'", "'sha256-abc='"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "http://localhost:8000"],
        "media-src": ["'self'", "http://localhost:8000"],
        "connect-src": ["'self'", "ws://localhost:8000"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def test_clerk_and_supabase_add_exactly_their_hosts():
    policy = directives(
        content_security_policy(settings(public_base_url="https://openv.example.com", **CLERK, **SUPABASE))
    )
    assert policy["script-src"] == [
        "'self'",
        "'unsafe-eval'",
        f"https://{CLERK_HOST}",
        "https://challenges.cloudflare.com",
    ]
    assert policy["connect-src"] == ["'self'", "wss://openv.example.com", f"https://{CLERK_HOST}"]
    assert policy["img-src"] == ["'self'", "https://abcd.supabase.co", "https://img.clerk.com"]
    assert policy["media-src"] == ["'self'", "https://abcd.supabase.co"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["frame-src"] == ["https://challenges.cloudflare.com"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_a_publishable_key_alone_loads_no_clerk():
    # Without a secret (or JWT) key the app runs the dev sign-in and never loads ClerkJS.
    policy = content_security_policy(settings(clerk_publishable_key=CLERK["clerk_publishable_key"]))
    assert CLERK_HOST not in policy and "worker-src" not in policy


def test_https_sends_hsts_and_http_does_not():
    https = dict(security_headers(settings(public_base_url="https://openv.example.com")))
    assert https["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in dict(security_headers(settings()))


def test_frame_ancestors_allowlist_replaces_none_and_drops_x_frame_options():
    headers = dict(security_headers(settings()))
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"

    allowed = settings(frame_ancestors="https://intranet.example.com, https://*.example.org:8443/")
    headers = dict(security_headers(allowed))
    assert "X-Frame-Options" not in headers  # it cannot name origins
    assert directives(headers["Content-Security-Policy"])["frame-ancestors"] == [
        "https://intranet.example.com",
        "https://*.example.org:8443",
    ]


@pytest.mark.parametrize(
    "value", ["*", "https://a.example.com; script-src *", "javascript:alert(1)", "https://a.example.com/path", "a.com"]
)
def test_frame_ancestors_takes_only_origins(value):
    with pytest.raises(ValidationError, match="frame_ancestors"):
        settings(frame_ancestors=value)


def test_docs_pages_get_swagger_and_redoc_sources_but_no_hashes():
    from openv_app.api.main import api

    assert {api.docs_url, api.redoc_url, api.swagger_ui_oauth2_redirect_url} == DOCS_PAGES
    policy = directives(content_security_policy(settings(), docs=True))
    assert policy["script-src"] == ["'self'", "'unsafe-eval'", "'unsafe-inline'", "https://cdn.jsdelivr.net"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_inline_script_hashes_cover_the_built_pages_inline_scripts(tmp_path: Path):
    (tmp_path / "explore").mkdir()
    (tmp_path / "index.html").write_text(
        '<script src="/assets/x-12345678.js"></script><script>window.a = 1;</script><script type="module">b()</script>'
    )
    (tmp_path / "explore" / "index.html").write_text("<script>window.a = 1;</script><script> </script>")

    def digest(script: str) -> str:
        return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"

    assert inline_script_hashes(tmp_path) == sorted([digest("window.a = 1;"), digest("b()")])
    assert inline_script_hashes(tmp_path / "no-build") == []


# --- per response ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,status,content_type,expected",
    [
        ("/assets/_index-9Kcbpbqp.js", 200, "text/javascript", IMMUTABLE),
        ("/assets/__reflex_global_styles-DIfaskeF.css", 304, "", IMMUTABLE),
        ("/assets/_index-9Kcbpbqp.js", 404, "text/html; charset=utf-8", "no-cache"),  # never kept a year
        ("/clerk.js", 200, "text/javascript", None),  # not hashed: the browser revalidates
        ("/", 200, "text/html; charset=utf-8", "no-cache"),
        ("/v/abc", 404, "text/html; charset=utf-8", "no-cache"),
        ("/api/videos", 200, "application/json", "no-store"),
        ("/api/storage/u/v.mp4", 206, "video/mp4", None),
    ],
)
def test_cache_control(path, status, content_type, expected):
    assert cache_control(path, status, content_type) == expected


@pytest.mark.parametrize(
    "location,expected",
    [
        ("http://10.0.0.5:8000/explore/", "https://openv.example.com/explore/"),
        ("http://10.0.0.5:8000/api/videos?limit=2", "https://openv.example.com/api/videos?limit=2"),
        ("/explore/", "/explore/"),  # relative: the browser keeps its own origin
        ("https://accounts.example.com/sign-in", "https://accounts.example.com/sign-in"),  # elsewhere
    ],
)
def test_redirects_to_the_request_url_move_to_the_public_origin(location, expected):
    assert public_location(location, "10.0.0.5:8000", "https://openv.example.com") == expected


def test_headers_a_route_sets_itself_stay_and_websockets_pass_through():
    async def own_headers(request):
        return PlainTextResponse("x", headers={"Cache-Control": "private, max-age=60", "X-Frame-Options": "SAMEORIGIN"})

    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    inner = Starlette(routes=[Route("/api/own", own_headers), WebSocketRoute("/_event", echo)])
    with TestClient(SecurityHeaders(inner, settings(), build_dir=Path("/nonexistent"))) as client:
        response = client.get("/api/own")
        assert response.headers["cache-control"] == "private, max-age=60"
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        assert response.headers["x-content-type-options"] == "nosniff"
        with client.websocket_connect("/_event") as socket:
            socket.send_text("ping")
            assert socket.receive_text() == "ping"


# --- the API over HTTP -----------------------------------------------------------------------


def assert_security_headers(response: httpx.Response) -> None:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers  # PUBLIC_BASE_URL is http here


def test_api_json_404_and_405_carry_the_headers(app_factory):
    app = app_factory()
    listing = httpx.get(f"{app.url}/api/videos")
    assert listing.status_code == 200
    assert_security_headers(listing)
    assert listing.headers["cache-control"] == "no-store"

    for response in (
        httpx.get(f"{app.url}/api/videos/{uuid.uuid4()}"),  # a route's 404
        httpx.get(f"{app.url}/api/no-such-route"),
        httpx.put(f"{app.url}/api/health"),
    ):
        assert response.status_code in (404, 405) and "error" in response.json(), response.text
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"


def test_api_redirect_keeps_the_public_origin(app_factory):
    app = app_factory()
    response = httpx.get(f"{app.url}/api/videos/", headers={"Host": "internal.lan:8000"})
    assert response.status_code == 307
    assert response.headers["location"] == f"{app.url}/api/videos"
    assert_security_headers(response)


def test_ranged_media_keep_their_own_answer(app_factory):
    app = app_factory()
    file = app.storage.root / "dev-user" / "clip.mp4"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(bytes(range(256)) * 4)
    url = run_sync(app.storage.create_download_url("dev-user/clip.mp4"))
    response = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["content-range"] == "bytes 10-19/1024"
    assert "cache-control" not in response.headers
    assert_security_headers(response)
