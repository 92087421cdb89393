"""Security headers and caching on every HTTP response of the app: pages, built assets, the API,
redirects and errors.

One pure ASGI middleware wrapped around the whole app (`rx.App(api_transformer=[api,
SecurityHeaders])`, so the Reflex frontend served in single-port production mode goes through
it too). It only adds headers to `http.response.start`: bodies (files, ranges, streams) pass as
they are, and websockets (Reflex's `/_event`) and lifespan events are not touched. A header a
route set itself is left alone.

The policy is built once from `Settings` (`content_security_policy`, `security_headers`); the
choices per response (`cache_control`, `public_location`) are plain functions.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import URL, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openv_app.services.clerk_auth import browser_clerk_host
from openv_app.settings import Settings, get_settings

SELF = "'self'"
# Vite names each built file `/assets/<name>-<8-character content hash>.<ext>`: what is served
# under such a name never changes, so browsers may keep it for a year without asking again.
HASHED_ASSET = re.compile(r"/assets/[^/]+-[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+")
IMMUTABLE = "public, max-age=31536000, immutable"
HSTS = "max-age=31536000; includeSubDomains"
# Inline scripts of the built pages: the <script> elements without a `src`.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)

# What ClerkJS needs besides its Frontend API host (Clerk's "Configure Clerk
# Content-Security-Policy headers"): avatars from img.clerk.com, Cloudflare's bot protection
# (script and frame), and its workers from blob: URLs.
CLERK_IMAGES = "https://img.clerk.com"
CLOUDFLARE_CHALLENGES = "https://challenges.cloudflare.com"

# FastAPI's documentation pages (api/main.py: docs_url, redoc_url and Swagger's OAuth2 redirect)
# load Swagger UI and ReDoc from jsDelivr and start them with an inline script that FastAPI
# writes from its settings; they show only the public API schema. ReDoc also loads Google Fonts,
# its logo from cdn.redoc.ly, and runs a worker from a blob: URL.
DOCS_PAGES = frozenset({"/api/docs", "/redoc", "/docs/oauth2-redirect"})
DOCS_SOURCES: dict[str, list[str]] = {
    "script-src": ["'unsafe-inline'", "https://cdn.jsdelivr.net"],
    "style-src": ["https://cdn.jsdelivr.net", "https://fonts.googleapis.com"],
    "font-src": [SELF, "https://fonts.gstatic.com"],
    "img-src": ["data:", "https://fastapi.tiangolo.com", "https://cdn.redoc.ly"],
    "worker-src": [SELF, "blob:"],
}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def socket_origin_of(url: str) -> str:
    """Where Reflex's frontend opens its `/_event` websocket when the page is at `url`: the same
    host, ws: under http and wss: under https. CSP Level 3 browsers let 'self' cover it; the
    explicit source is for those that do not."""
    parts = urlsplit(url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def media_origins(settings: Settings) -> list[str]:
    """Where cards' posters and videos come from: the app itself (local storage signs URLs on
    PUBLIC_BASE_URL, which may not be the host the page was opened at) or Supabase Storage."""
    if settings.storage_backend == "supabase" and settings.supabase_url:
        return [SELF, origin_of(settings.supabase_url)]
    return [SELF, origin_of(settings.public_base_url)]


def inline_script_hashes(build_dir: Path) -> list[str]:
    """CSP hashes of the inline scripts in the built pages (Reflex's prerendered HTML: the theme
    script, React Router's context and scroll restoration, React's streaming helpers). They are
    fixed when the frontend is built, so the policy allows exactly these and no other inline
    script. None without a build (dev mode, the API alone)."""
    found: set[str] = set()
    for page in sorted(build_dir.rglob("*.html")) if build_dir.is_dir() else []:
        for script in INLINE_SCRIPT.findall(page.read_text(encoding="utf-8")):
            if script.strip():
                digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
                found.add(f"'sha256-{digest}'")
    return sorted(found)


def content_security_policy(settings: Settings, script_hashes: Iterable[str] = (), docs: bool = False) -> str:
    """The policy for the app's pages (or, with `docs`, for FastAPI's documentation pages)."""
    media = media_origins(settings)
    directives: dict[str, list[str]] = {
        "default-src": [SELF],
        # 'unsafe-eval': Reflex runs the code of `rx.call_script`/`call_function` events and their
        # callbacks with eval() (state.js); the app uses them to ask ClerkJS for the session token,
        # to sign out and to give focus back after the player closes.
        "script-src": [SELF, "'unsafe-eval'", *script_hashes],
        # Emotion (Radix Themes, Reflex's style props) and ClerkJS write <style> elements at run
        # time, and the shared video's page has its own <style>.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": list(media),
        "media-src": list(media),
        "connect-src": [SELF, socket_origin_of(settings.public_base_url)],
        "object-src": ["'none'"],
        "base-uri": [SELF],
        "form-action": [SELF],
        # No other site may frame the studio (clickjacking on Generate or Delete) unless the
        # operator lists it.
        "frame-ancestors": settings.frame_ancestors or ["'none'"],
    }
    if clerk_host := browser_clerk_host(settings):
        frontend_api = f"https://{clerk_host}"
        directives["script-src"] += [frontend_api, CLOUDFLARE_CHALLENGES]
        directives["connect-src"].append(frontend_api)
        directives["img-src"].append(CLERK_IMAGES)
        directives["worker-src"] = [SELF, "blob:"]
        directives["frame-src"] = [CLOUDFLARE_CHALLENGES]
    if docs:  # built without the pages' hashes, which would make browsers ignore 'unsafe-inline'
        for name, sources in DOCS_SOURCES.items():
            directives[name] = directives.get(name, [SELF]) + sources
    return "; ".join(f"{name} {' '.join(dict.fromkeys(sources))}" for name, sources in directives.items())


def security_headers(
    settings: Settings, script_hashes: Iterable[str] = (), docs: bool = False
) -> list[tuple[str, str]]:
    """The headers every response carries (unless its route set one itself)."""
    headers = [
        ("Content-Security-Policy", content_security_policy(settings, script_hashes, docs)),
        ("X-Content-Type-Options", "nosniff"),
        # Other sites see only the origin: never a share link's slug or a signed URL's query.
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]
    if not settings.frame_ancestors:
        # For browsers without CSP frame-ancestors; it cannot list origins, so only without an allowlist.
        headers.append(("X-Frame-Options", "DENY"))
    if settings.public_base_url.startswith("https://"):
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def cache_control(path: str, status: int, content_type: str) -> str | None:
    """What a response that set no Cache-Control gets, or None to leave it without."""
    if HASHED_ASSET.fullmatch(path) and status in (200, 206, 304):  # never a 404 for a year
        return IMMUTABLE
    if content_type.startswith("text/html"):
        # Pages are asked for again each time (a new build, a revoked share link); their
        # ETag/Last-Modified keep that cheap.
        return "no-cache"
    if path.startswith("/api/") and content_type.startswith("application/json"):
        # A user's videos, statuses that change, health: neither the browser nor a proxy keeps them.
        return "no-store"
    return None


def public_location(location: str, request_netloc: str, public_base_url: str) -> str:
    """A redirect built from the request's own URL (Starlette's `/explore` → `/explore/`) on the
    scheme and host of PUBLIC_BASE_URL: behind a TLS proxy the request arrives as http on an
    internal host. Other redirects are left as they are."""
    target = urlsplit(location)
    if not target.netloc or target.netloc != request_netloc:
        return location
    public = urlsplit(public_base_url)
    return urlunsplit((public.scheme, public.netloc, target.path, target.query, target.fragment))


def frontend_build_dir() -> Path:
    """Where Reflex's production build puts the pages it serves (`reflex run --env prod`)."""
    from reflex.utils.prerequisites import get_web_dir
    from reflex_base.constants import Dirs

    return get_web_dir() / Dirs.STATIC


class SecurityHeaders:
    """The ASGI middleware; `SecurityHeaders(app)` is also the `api_transformer` Reflex calls."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None, build_dir: Path | None = None) -> None:
        settings = settings or get_settings()
        self.app = app
        self.public_base_url = settings.public_base_url
        self.headers = security_headers(settings, inline_script_hashes(build_dir or frontend_build_dir()))
        self.docs_headers = security_headers(settings, docs=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.add_headers(scope, message)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def add_headers(self, scope: Scope, message: Message) -> None:
        path: str = scope["path"]
        message.setdefault("headers", [])
        headers = MutableHeaders(scope=message)
        for name, value in self.docs_headers if path in DOCS_PAGES else self.headers:
            headers.setdefault(name, value)
        if "cache-control" not in headers:
            if policy := cache_control(path, message["status"], headers.get("content-type", "")):
                headers["Cache-Control"] = policy
        if "location" in headers:
            headers["Location"] = public_location(headers["location"], URL(scope=scope).netloc, self.public_base_url)
