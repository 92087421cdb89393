"""The Reflex app: pages, the mounted HTTP API, the status poller and live pushes."""

import contextlib
from collections.abc import AsyncIterator, Iterable

import reflex as rx

from openv_app import live, memory, metrics, reflex_tokens
from openv_app.api.main import api
from openv_app.api.security_headers import SecurityHeaders
from openv_app.components.not_found import not_found
from openv_app.logs import configure_logging
from openv_app.models import Video
from openv_app.pages.admin import admin
from openv_app.pages.explore import explore
from openv_app.pages.index import index
from openv_app.services.clerk_auth import frontend_api_host
from openv_app.services.poller import run_status_poller
from openv_app.services.wiring import get_job_service
from openv_app.settings import get_settings
from openv_app.states.admin import AdminState
from openv_app.states.explore import ExploreState
from openv_app.states.library import LibraryState
from openv_app.states.session import SessionState
from openv_app.states.studio import GenerateState
from openv_app.tabs import RedisTabs, get_tab_registry

# Fail at start-up, naming the variable, when the configuration is wrong.
settings = get_settings()
configure_logging(settings.log_format)


def clerk_scripts() -> list[rx.Component]:
    """ClerkJS from the instance's Frontend API, plus the bridge in assets/clerk.js."""
    if settings.dev_auth or not settings.clerk_publishable_key:
        return []
    host = frontend_api_host(settings.clerk_publishable_key)
    return [
        rx.el.script(
            src=f"https://{host}/npm/@clerk/clerk-js@5/dist/clerk.browser.js",
            custom_attrs={"crossorigin": "anonymous", "data-clerk-publishable-key": settings.clerk_publishable_key},
        ),
        rx.el.script(src="/clerk.js"),
    ]


# The browser's bar takes the page's background colour (Radix Themes' mauve 1, light and dark).
THEME_COLOR = [
    {"name": "theme-color", "content": "#fdfcfd", "media": "(prefers-color-scheme: light)"},
    {"name": "theme-color", "content": "#121113", "media": "(prefers-color-scheme: dark)"},
]

# Pasting an image into the studio makes it the start image (assets/paste_image.js).
PASTE_IMAGE = rx.el.script(src="/paste_image.js", defer=True)

app = rx.App(
    api_transformer=[api, SecurityHeaders],
    head_components=[*clerk_scripts(), PASTE_IMAGE],
    stylesheets=["/cards.css"],
)
app.add_page(
    explore,
    route="/explore",
    title="Explore — OpenV",
    description="Videos shared by OpenV's makers, and sample prompts to start your own AI video from.",
    meta=THEME_COLOR,
    on_load=ExploreState.load_explore,
)
app.add_page(
    index,
    route="/",
    title="OpenV — AI video generation",
    description="OpenV turns a text prompt into a short video: generate, follow its progress, watch and share.",
    meta=THEME_COLOR,
    # Every (re)hydration loads the library, so a tab that reconnected with a new token (its
    # worker died) is registered again; the signed-in view's mount loads it after a Clerk sign-in.
    on_load=[SessionState.load_session, GenerateState.load_form, LibraryState.load_library],
)

app.add_page(
    admin,
    route="/admin",
    title="Admin — OpenV",
    description="Run this OpenV instance: users, vouchers, jobs in flight.",
    meta=THEME_COLOR,
    on_load=[SessionState.load_session, AdminState.load_admin],
)
app.add_page(not_found, route="404", title="404: Page not found — OpenV", meta=THEME_COLOR)

pusher = live.TabPusher(app, get_tab_registry())


async def push_to_open_tabs(video: Video) -> None:
    # Never awaited on the answer path: the change may come from an event of one of these very
    # tabs (whose state lock is held until that event returns), or from a webhook that must
    # answer at once however slow Redis is.
    pusher.push_soon(video)


async def status_poller() -> None:
    # Every backend worker polls; they share the /status rate.
    await run_status_poller(get_job_service(), settings.worker_count)


async def refresh_served_tabs() -> None:
    await live.ServedTabsRefresher(pusher, get_job_service()).run()


async def forget_closed_tabs() -> None:
    tabs = get_tab_registry()
    assert isinstance(tabs, RedisTabs)
    await reflex_tokens.forget_closed_tabs(app, tabs)


def open_websockets() -> Iterable[str]:
    # Looked up each time: the namespace is set up when the app first serves, not at import.
    namespace = app.event_namespace
    return namespace.sid_to_token if namespace else ()


async def close_idle_connections() -> None:
    await get_job_service().close_idle_database_connections()
    await get_tab_registry().close_idle_connections()
    for redis in reflex_tokens.reflex_redis_clients(app):
        await redis.connection_pool.disconnect(inuse_connections=False)


async def return_freed_memory() -> None:
    await memory.return_freed_memory_periodically(open_websockets, metrics.observe_heap_in_use, close_idle_connections)


@contextlib.asynccontextmanager
async def close_clients_at_shutdown() -> AsyncIterator[None]:
    yield
    await get_job_service().aclose()
    await get_tab_registry().aclose()


get_job_service().listeners.append(push_to_open_tabs)
app.register_lifespan_task(close_clients_at_shutdown)
app.register_lifespan_task(metrics.process_metrics)
app.register_lifespan_task(return_freed_memory)
app.register_lifespan_task(status_poller)
app.register_lifespan_task(live.background(refresh_served_tabs))
if isinstance(get_tab_registry(), RedisTabs):
    app.register_lifespan_task(live.background(forget_closed_tabs))
