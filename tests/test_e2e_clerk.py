"""The production app with Clerk configured (invite-only), in a real browser: ClerkJS comes from
the instance's Frontend API host (a stand-in, tokens signed by the tests' key and verified by the
app), and the studio works under the Content-Security-Policy that names that host. A signed-in
newcomer redeems a voucher and generates a video; the admin page is a 404 page to them; a
visitor without a session gets the sign-in panel."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from openv_app.db import make_sync_engine
from openv_app.models import accounts, utcnow, vouchers
from openv_app.settings import LOCAL_RUNPOD_API_KEY
from tests.support.accounts import MAKER
from tests.support.browser import ARTIFACTS, CARD_STATUS_JS, RECORD_VIOLATIONS, assert_security_headers, goto_live
from tests.support.clerk_backend import SECRET_KEY, ClerkBackend
from tests.support.clerk_browser import FRONTEND_API_HOST, PUBLISHABLE_KEY, route_clerk
from tests.support.clerk_tokens import ISSUER
from tests.support.databases import migrate, scratch_database
from tests.support.handlers import scripted_handler
from tests.support.processes import production_app, project_copy
from tests.support.servers import ServerThread, free_port, start_local_runpod

USER = "user_clerk_e2e"


@dataclass
class ClerkApp:
    url: str
    backend: ClerkBackend
    database_url: str


@pytest.fixture(scope="module")
def clerk_prod_app(tmp_path_factory, postgres_server, tiny_weights) -> Iterator[ClerkApp]:
    folder = tmp_path_factory.mktemp("clerk-app")
    project = project_copy(folder / "project")
    backend = ClerkBackend()
    backend.add(USER, ("newcomer@example.com", True))
    runpod_server, runpod = start_local_runpod(scripted_handler, api_key=LOCAL_RUNPOD_API_KEY)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    try:
        with ServerThread(backend.app()) as clerk_server, scratch_database(postgres_server, "openv_clerk") as db:
            backend.url = f"{clerk_server.url}/v1"
            migrate(db)
            app = production_app(
                db,
                "clerk-e2e-secret",
                folder / "reflex.log",
                timeout=400,
                port=port,
                project_dir=project,
                RUNPOD_API_KEY="",
                RUNPOD_BASE_URL=runpod.base_url,
                LOCAL_STORAGE_DIR=str(folder / "storage"),
                POLL_INTERVAL_S="1",
                CLERK_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
                CLERK_SECRET_KEY=SECRET_KEY,
                CLERK_API_URL=backend.url,
                CLERK_JWT_KEY=MAKER.public_pem_env,
                CLERK_ISSUER=ISSUER,
                CLERK_AUTHORIZED_PARTIES=json.dumps([origin]),
                ACCESS_POLICY="invite-only",
            )
            with app as url:
                yield ClerkApp(url, backend, db)
    finally:
        runpod_server.__exit__()


def clerk_page(browser, app: ClerkApp, user_id: str | None):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    route_clerk(context, MAKER, app.url, user_id)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def test_the_policy_names_the_frontend_api_and_a_newcomer_redeems_then_generates(browser, clerk_prod_app):
    app = clerk_prod_app
    engine = make_sync_engine(app.database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(vouchers).values(code="CLERK-E2E", max_uses=1, created_by="e2e", created_at=utcnow())
        )
    page = clerk_page(browser, app, USER)
    response = goto_live(page, app.url)
    assert_security_headers(response)
    csp = response.headers["content-security-policy"]
    for directive in ("script-src", "connect-src"):
        assert f"https://{FRONTEND_API_HOST}" in csp.split(directive)[1].split(";")[0]

    # The server verified the token and made the account as the policy says: restricted.
    expect(page.locator("#access-reason")).to_contain_text("redeem a voucher", timeout=30000)
    expect(page.locator("#clerk-user-button")).to_have_text("Signed in")
    page.get_by_label("Voucher code").fill("clerk-e2e")
    page.click("#redeem-voucher")
    expect(page.locator("#access-panel")).to_have_count(0)

    prompt = f"a heron in the reeds {uuid.uuid4().hex[:8]}"
    page.fill("#prompt", prompt)
    page.click("#generate")
    page.wait_for_function(CARD_STATUS_JS, arg=[prompt, "COMPLETED"], polling="raf", timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "clerk_studio.png"))
    with engine.connect() as connection:
        row = connection.execute(sa.select(accounts).where(accounts.c.user_id == USER)).mappings().one()
    assert (row["role"], row["email"]) == ("user", "newcomer@example.com")

    goto_live(page, f"{app.url}/admin")
    expect(page.locator("#not-found")).to_be_visible()
    assert page.evaluate("() => window.cspViolations") == []
    assert [error for error in page.console_errors if "Content Security Policy" in error] == []
    engine.dispose()


def test_a_visitor_without_a_session_gets_the_sign_in_panel(browser, clerk_prod_app):
    page = clerk_page(browser, clerk_prod_app, None)
    goto_live(page, clerk_prod_app.url)
    expect(page.locator("#clerk-sign-in")).to_have_text("Clerk's sign-in form", timeout=30000)
    expect(page.locator("#generate")).to_have_count(0)
    assert page.evaluate("() => window.cspViolations") == []
