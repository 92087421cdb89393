import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from openv_app.first_paint import ScriptsAfterFirstPaintPlugin
from openv_app.memory import cap_reflex_redis_connections, configure_granian_allocator
from openv_app.settings import Settings
from openv_app.theme_css import SlimRadixTailwindPlugin, TreeShakenRadixThemesPlugin
from openv_app.workers import respawn_failed_workers

# Read here for Reflex, from the app's one settings object. Not `get_settings()`: Reflex loads
# this file before `reflex run --env prod` has set the mode the app's settings check.
settings = Settings()

# Before Granian is loaded: its allocator returns freed memory at once (openv_app/memory.py).
configure_granian_allocator()
# Before Reflex makes its Redis client: a bounded pool per worker (openv_app/memory.py).
cap_reflex_redis_connections(settings.redis_max_connections)

# A backend worker that dies is replaced; the others keep serving (openv_app/workers.py).
respawn_failed_workers()

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
