import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin


def allowed_origins() -> list[str]:
    """Origins whose pages may call the API and open websockets (CORS): the app's own, and the
    dev frontend. Another site cannot make a visitor's browser submit jobs."""
    if configured := os.environ.get("CORS_ALLOWED_ORIGINS"):
        return [origin.strip().rstrip("/") for origin in configured.split(",") if origin.strip()]
    public = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
    return [public, "http://localhost:3000", "http://127.0.0.1:3000"]


config = rx.Config(
    app_name="openv_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # One variable for the app and Reflex: with Redis, Reflex keeps state there and runs
    # several backend workers (openv_app/settings.py reads the same REDIS_URL).
    redis_url=os.environ.get("REDIS_URL") or None,
    cors_allowed_origins=allowed_origins(),
    plugins=[
        rx.plugins.TailwindV4Plugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="violet", radius="large")),
    ],
    disable_plugins=[SitemapPlugin],
)
