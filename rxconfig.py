import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

config = rx.Config(
    app_name="openv_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # One variable for the app and Reflex: with Redis, Reflex keeps state there and runs
    # several backend workers (openv_app/settings.py reads the same REDIS_URL).
    redis_url=os.environ.get("REDIS_URL") or None,
    plugins=[
        rx.plugins.TailwindV4Plugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="violet", radius="large")),
    ],
    disable_plugins=[SitemapPlugin],
)
