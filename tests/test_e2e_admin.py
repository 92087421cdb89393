"""A public instance in a real browser, on the production app: the admin page for an admin and
the 404 page for anyone else, a restricted user redeeming a voucher in the studio, and the
operator's terms accepted before generating. The dev sign-in's one user is the subject: its
stored role and terms acceptance are changed in the database, as an admin or new terms would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import sqlalchemy as sa
from playwright.sync_api import expect

from openv_app.db import make_sync_engine
from openv_app.models import Role, accounts, terms_acceptances, utcnow, vouchers
from openv_app.services.auth import DEV_USER_ID
from tests.support.browser import ARTIFACTS, goto_live
from tests.support.processes import PROD_TERMS_VERSION, accept_prod_terms


@contextmanager
def dev_user_role(database_url: str, role: str) -> Iterator[sa.Engine]:
    engine = make_sync_engine(database_url)

    def set_role(value: str) -> None:
        with engine.begin() as connection:
            connection.execute(sa.update(accounts).where(accounts.c.user_id == DEV_USER_ID).values(role=value))

    set_role(role)
    try:
        yield engine
    finally:
        set_role(Role.ADMIN)
        engine.dispose()


def open_studio(page, url: str) -> None:
    goto_live(page, url)


def test_admin_page_lists_users_and_manages_vouchers(prod_app, page):
    open_studio(page, prod_app.url)  # the dev user's account is made on first sight, as admin
    expect(page.locator("#to-admin")).to_be_visible()
    page.click("#to-admin")
    expect(page.locator("#admin-title")).to_be_visible()
    users = page.locator("#users-table")
    expect(users.locator(f"tr[data-user='{DEV_USER_ID}']")).to_contain_text("admin")

    page.get_by_label("Note").fill("for the e2e test")
    page.click("#create-voucher")
    expect(page.locator("#admin-message")).to_contain_text("Voucher")
    code = page.locator("#admin-message").inner_text().split()[1]
    row = page.locator("#vouchers-table tr", has_text=code)
    expect(row).to_contain_text("0 of 1")
    row.get_by_role("button", name=f"Revoke {code}").click()
    expect(row).to_contain_text("revoked")
    expect(page.locator("#audit-table")).to_contain_text("revoke_voucher")
    expect(page.locator("#endpoint-health")).to_contain_text("workers")
    page.screenshot(path=str(ARTIFACTS / "admin_page.png"), full_page=True)


def test_anyone_but_an_admin_gets_the_404_page_and_api(prod_app, page):
    open_studio(page, prod_app.url)
    with dev_user_role(prod_app.database_url, Role.USER):
        goto_live(page, f"{prod_app.url}/admin")
        expect(page.locator("#not-found")).to_have_text("404: Page not found")
        expect(page.locator("#users-table")).to_have_count(0)
        assert httpx.get(f"{prod_app.url}/api/admin/users").status_code == 404
        goto_live(page, prod_app.url)
        expect(page.locator("#to-admin")).to_have_count(0)


def test_restricted_user_redeems_a_voucher_in_the_studio_then_generates(prod_app, page):
    open_studio(page, prod_app.url)
    with dev_user_role(prod_app.database_url, Role.RESTRICTED) as engine:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(vouchers).values(code="E2E-WELCOME", max_uses=1, created_by="e2e", created_at=utcnow())
            )
        open_studio(page, prod_app.url)
        expect(page.locator("#access-reason")).to_contain_text("redeem a voucher")
        expect(page.locator("#generate")).to_be_disabled()
        page.get_by_label("Voucher code").fill("NOT-A-CODE")
        page.click("#redeem-voucher")
        expect(page.locator("#access-error")).to_have_text("code: no such voucher")
        page.get_by_label("Voucher code").fill("e2e-welcome")
        page.screenshot(path=str(ARTIFACTS / "voucher_panel.png"))
        page.click("#redeem-voucher")
        expect(page.locator("#access-panel")).to_have_count(0)
        page.fill("#prompt", "a paper boat on a pond")
        expect(page.locator("#generate")).to_be_enabled()
        with engine.connect() as connection:
            role = connection.execute(sa.select(accounts.c.role).where(accounts.c.user_id == DEV_USER_ID)).scalar()
        assert role == Role.USER


def test_terms_are_shown_and_accepted_before_generating(prod_app, page):
    engine = make_sync_engine(prod_app.database_url)
    with engine.begin() as connection:
        connection.execute(sa.delete(terms_acceptances).where(terms_acceptances.c.user_id == DEV_USER_ID))
    try:
        open_studio(page, prod_app.url)
        expect(page.locator("#access-reason")).to_contain_text("Accept the terms")
        expect(page.locator("#terms-text")).to_contain_text("No videos of real people")
        page.fill("#prompt", "a kite over a beach")
        expect(page.locator("#generate")).to_be_disabled()
        page.screenshot(path=str(ARTIFACTS / "terms_panel.png"))
        page.click("#accept-terms")
        expect(page.locator("#access-panel")).to_have_count(0)
        expect(page.locator("#generate")).to_be_enabled()
        with engine.connect() as connection:
            versions = connection.execute(
                sa.select(terms_acceptances.c.version).where(terms_acceptances.c.user_id == DEV_USER_ID)
            ).scalars()
            assert list(versions) == [PROD_TERMS_VERSION]
    finally:
        accept_prod_terms(prod_app.database_url)
        engine.dispose()
