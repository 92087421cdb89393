import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from openv_app.first_paint import ScriptsAfterFirstPaintPlugin
from openv_app.memory import cap_reflex_redis_connections, preload_jemalloc
from openv_app.server import serve_with_gunicorn
from openv_app.settings import Settings
from openv_app.theme_css import SlimRadixTailwindPlugin, TreeShakenRadixThemesPlugin

# Read here for Reflex, from the app's one settings object. Not `get_settings()`: Reflex loads
# this file before `reflex run --env prod` has set the mode the app's settings check.
settings = Settings()

# Gunicorn with uvicorn workers: a tab's websocket costs a third of what it does in Granian, and
# a worker that dies is replaced (openv_app/server.py).
serve_with_gunicorn(settings.worker_count)
# ... on jemalloc where the system has it: closed tabs' memory goes back (openv_app/memory.py).
preload_jemalloc()
# Before Reflex makes its Redis client: a bounded pool per worker (openv_app/memory.py).
cap_reflex_redis_connections(settings.redis_max_connections)

config = rx.Config(
    app_name="openv_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # With Redis, Reflex keeps every tab's state there and runs several backend workers.
    redis_url=settings.redis_url,
    # Bounds how long a closed tab's state is kept, with Redis and without (the memory manager
    # reads the same setting).
    redis_token_expiration=settings.tab_state_ttl_s,
    cors_allowed_origins=settings.allowed_origins,
    plugins=[
        SlimRadixTailwindPlugin(),  # Tailwind v4, Radix Themes with only the app's colours
        TreeShakenRadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="violet", radius="large")),
        ScriptsAfterFirstPaintPlugin(),  # the page paints before its JavaScript downloads
    ],
    disable_plugins=[SitemapPlugin],
    # Built once, served to browsers that accept them (over HTTPS): brotli is ~12 % smaller than gzip.
    frontend_compression_formats=["brotli", "gzip"],
)
