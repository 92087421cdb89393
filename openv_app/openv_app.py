"""The Reflex app: pages, the mounted HTTP API and the status poller."""

import reflex as rx

from openv_app.api.routes import api
from openv_app.pages.index import index
from openv_app.services.poller import run_status_poller
from openv_app.services.wiring import get_job_service
from openv_app.settings import get_settings

# Fail at start-up, naming the variable, when the configuration is wrong.
settings = get_settings()


async def status_poller() -> None:
    await run_status_poller(get_job_service(), settings.poll_interval_s)


app = rx.App(api_transformer=api)
app.add_page(index, route="/", title="OpenV — AI video generation")
app.register_lifespan_task(status_poller)
