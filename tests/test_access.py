"""Who may generate on a public instance, over HTTP in Clerk mode: the access policies (with
e-mail addresses read from a Clerk Backend API stand-in by the real client), vouchers, terms,
per-user limits, disabled users, and the first admin made from the command line."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from openv_app.models import Role, accounts, terms_acceptances, utcnow, videos, voucher_redemptions, vouchers
from openv_app.services.accounts import is_allowlisted, role_for_newcomer
from openv_app.settings import Settings
from tests.support.accounts import account, admin_call, as_user, first_admin, submit

# --- the rules ----------------------------------------------------------------------------


def test_allowlist_matches_addresses_and_whole_domains_only():
    allowlist = Settings(_env_file=None, access_allowlist="Ann@Example.com, @team.org").access_allowlist
    assert allowlist == ["ann@example.com", "team.org"]
    assert is_allowlisted("ANN@example.com", allowlist)
    assert is_allowlisted("bob@team.org", allowlist)
    assert not is_allowlisted("bob@example.com", allowlist)
    assert not is_allowlisted("eve@evilteam.org", allowlist)
    assert not is_allowlisted("eve@team.org.evil.com", allowlist)
    assert not is_allowlisted(None, allowlist)


def test_each_policy_gives_a_newcomer_its_role():
    clerk = {"clerk_jwt_key": "k", "clerk_issuer": "https://i", "clerk_authorized_parties": ["https://o"]}
    open_ = Settings(_env_file=None, **clerk)
    invite = Settings(_env_file=None, access_policy="invite-only", **clerk)
    allow = Settings(
        _env_file=None, access_policy="allowlist", access_allowlist="team.org", clerk_secret_key="sk", **clerk
    )
    assert role_for_newcomer(open_, None) == Role.USER
    assert role_for_newcomer(invite, "ann@team.org") == Role.RESTRICTED
    assert role_for_newcomer(allow, "ann@team.org") == Role.USER
    assert role_for_newcomer(allow, "ann@else.org") == Role.RESTRICTED
    assert role_for_newcomer(Settings(_env_file=None, access_policy="invite-only"), None) == Role.ADMIN  # dev


def test_settings_refuse_an_allowlist_policy_that_cannot_work():
    clerk = {"clerk_jwt_key": "k", "clerk_issuer": "https://i", "clerk_authorized_parties": ["https://o"]}
    with pytest.raises(ValueError, match="ACCESS_ALLOWLIST"):
        Settings(_env_file=None, access_policy="allowlist", clerk_secret_key="sk", **clerk)
    with pytest.raises(ValueError, match="CLERK_SECRET_KEY"):
        Settings(_env_file=None, access_policy="allowlist", access_allowlist="team.org", **clerk)
    with pytest.raises(ValueError, match="TERMS_FILE and TERMS_VERSION"):
        Settings(_env_file=None, terms_version="1")


# --- policies over HTTP ------------------------------------------------------------------------


def test_open_policy_lets_every_signed_in_user_generate_and_keeps_their_email(clerk_app, clerk_backend, engine):
    app = clerk_app()
    clerk_backend.add("user_ann", ("ann@example.com", True))
    assert submit(app, "user_ann").status_code == 201
    row = engine.connect().execute(sa.select(accounts).where(accounts.c.user_id == "user_ann")).mappings().one()
    assert (row["role"], row["email"]) == (Role.USER, "ann@example.com")
    asked = clerk_backend.requests
    assert submit(app, "user_ann").status_code == 201
    assert clerk_backend.requests == asked  # asked once, when the account was made


def test_invite_only_restricts_newcomers_until_they_redeem_a_voucher(clerk_app, clerk_backend):
    app = clerk_app(access_policy="invite-only")
    first_admin(app, clerk_backend)
    clerk_backend.add("user_new", ("new@example.com", True))

    refused = submit(app, "user_new")
    assert refused.status_code == 403 and refused.json()["field"] == "voucher"
    standing = account(app, "user_new")
    assert (standing["role"], standing["may_generate"], standing["blocked_field"]) == ("restricted", False, "voucher")

    voucher = admin_call(app, "POST", "/vouchers", json={"max_uses": 1, "note": "for new"})
    assert voucher.status_code == 201, voucher.text
    code = voucher.json()["code"]
    redeemed = httpx.post(
        f"{app.url}/api/vouchers/redeem", json={"code": code.lower()}, headers=as_user("user_new"), timeout=30
    )
    assert redeemed.status_code == 200, redeemed.text
    assert (redeemed.json()["role"], redeemed.json()["may_generate"]) == ("user", True)
    assert submit(app, "user_new").status_code == 201
    again = httpx.post(f"{app.url}/api/vouchers/redeem", json={"code": code}, headers=as_user("user_new"), timeout=30)
    assert again.status_code == 409 and again.json()["field"] == "code"


def test_allowlist_policy_uses_only_verified_addresses(clerk_app, clerk_backend, engine):
    app = clerk_app(access_policy="allowlist", access_allowlist="team.org,guest@example.com")
    clerk_backend.add("user_member", ("ann@team.org", True))
    clerk_backend.add("user_guest", ("guest@example.com", True))
    clerk_backend.add("user_unverified", ("eve@team.org", False), ("eve@home.net", True))
    clerk_backend.add("user_outsider", ("bob@else.org", True))
    assert submit(app, "user_member").status_code == 201
    assert submit(app, "user_guest").status_code == 201
    for outsider in ("user_unverified", "user_outsider"):
        refused = submit(app, outsider)
        assert refused.status_code == 403 and refused.json()["field"] == "voucher", outsider
    assert account(app, "user_unverified")["email"] == "eve@home.net"


def test_allowlist_policy_with_clerk_down_makes_no_account_and_says_try_again(clerk_app, clerk_backend, engine):
    app = clerk_app(access_policy="allowlist", access_allowlist="team.org")
    clerk_backend.add("user_member", ("ann@team.org", True))
    clerk_backend.down = True
    refused = submit(app, "user_member")
    assert refused.status_code == 503 and "try again" in refused.json()["error"]
    assert engine.connect().execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one() == 0
    clerk_backend.down = False
    assert submit(app, "user_member").status_code == 201


# --- vouchers ------------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_thirty_concurrent_redemptions_succeed_exactly_as_often_as_the_code_allows(clerk_app, clerk_backend, engine):
    app = clerk_app(access_policy="invite-only")
    first_admin(app, clerk_backend)
    code = admin_call(app, "POST", "/vouchers", json={"max_uses": 7}).json()["code"]
    users = [f"user_{index}" for index in range(30)]
    for user in users:
        clerk_backend.add(user, (f"{user}@example.com", True))
        account(app, user)  # accounts exist: the race is on the code alone

    def redeem(user: str) -> int:
        return httpx.post(
            f"{app.url}/api/vouchers/redeem", json={"code": code}, headers=as_user(user), timeout=60
        ).status_code

    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(redeem, users))
    assert sorted(statuses) == [200] * 7 + [400] * 23
    with engine.connect() as connection:
        assert connection.execute(sa.select(vouchers.c.uses)).scalar_one() == 7
        assert connection.execute(sa.select(sa.func.count()).select_from(voucher_redemptions)).scalar_one() == 7
        upgraded = connection.execute(sa.select(sa.func.count()).where(accounts.c.role == Role.USER)).scalar_one()
    assert upgraded == 7


def test_unusable_codes_are_refused_naming_why(clerk_app, clerk_backend, engine):
    app = clerk_app(access_policy="invite-only")
    first_admin(app, clerk_backend)
    clerk_backend.add("user_new", ("new@example.com", True))
    revoked = admin_call(app, "POST", "/vouchers", json={"code": "REVOKED-1"}).json()["code"]
    assert admin_call(app, "DELETE", f"/vouchers/{revoked}").json()["revoked_at"] is not None
    admin_call(app, "POST", "/vouchers", json={"code": "EXPIRED-1", "expires_at": "2099-01-01T00:00:00Z"})
    with engine.begin() as connection:
        connection.execute(sa.update(vouchers).where(vouchers.c.code == "EXPIRED-1").values(expires_at=sa.func.now()))

    def redeem(code: str) -> dict:
        response = httpx.post(
            f"{app.url}/api/vouchers/redeem", json={"code": code}, headers=as_user("user_new"), timeout=30
        )
        assert response.status_code == 400
        return response.json()

    assert redeem("NOPE-NOPE")["error"] == "code: no such voucher"
    assert redeem("revoked-1")["error"] == "code: this voucher was revoked"
    assert redeem("EXPIRED-1")["error"] == "code: this voucher has expired"
    assert account(app, "user_new")["role"] == "restricted"
    past = admin_call(app, "POST", "/vouchers", json={"expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["field"] == "expires_at"


# --- terms -----------------------------------------------------------------------------------


def test_terms_must_be_accepted_before_the_first_video_and_again_when_they_change(
    clerk_app, clerk_backend, engine, tmp_path: Path
):
    terms = tmp_path / "terms.md"
    terms.write_text("Be kind. Version one.")
    app = clerk_app(terms_file=terms, terms_version="2026-12")
    clerk_backend.add("user_ann", ("ann@example.com", True))

    refused = submit(app, "user_ann")
    assert refused.status_code == 403 and refused.json()["field"] == "terms"
    shown = httpx.get(f"{app.url}/api/terms", timeout=30).json()
    assert shown == {"version": "2026-12", "text": "Be kind. Version one."}
    stale = httpx.post(
        f"{app.url}/api/terms/accept", json={"version": "2026-01"}, headers=as_user("user_ann"), timeout=30
    )
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    accepted = httpx.post(
        f"{app.url}/api/terms/accept", json={"version": "2026-12"}, headers=as_user("user_ann"), timeout=30
    )
    assert accepted.status_code == 200 and accepted.json()["terms_accepted"] is True
    assert submit(app, "user_ann").status_code == 201

    terms.write_text("Be kind. Version two.")
    changed = clerk_app(terms_file=terms, terms_version="2027-01")
    assert submit(changed, "user_ann").json()["field"] == "terms"
    httpx.post(f"{changed.url}/api/terms/accept", json={"version": "2027-01"}, headers=as_user("user_ann"), timeout=30)
    assert submit(changed, "user_ann").status_code == 201
    with engine.connect() as connection:
        rows = connection.execute(sa.select(terms_acceptances).order_by(terms_acceptances.c.accepted_at)).all()
    assert [(row.user_id, row.version) for row in rows] == [("user_ann", "2026-12"), ("user_ann", "2027-01")]
    assert all(row.accepted_at is not None for row in rows)


# --- per-user limits, disabled users -------------------------------------------------------------


def test_per_user_overrides_replace_the_instance_limits_and_null_restores_them(clerk_app, clerk_backend):
    app = clerk_app(max_concurrent_jobs=5, daily_quota=50)
    first_admin(app, clerk_backend)
    clerk_backend.add("user_ann", ("ann@example.com", True))
    assert submit(app, "user_ann").status_code == 201

    changed = admin_call(app, "PATCH", "/users/user_ann", json={"max_concurrent_jobs": 1})
    assert changed.status_code == 200 and changed.json()["max_concurrent_jobs"] == 1
    assert submit(app, "user_ann").status_code == 409
    admin_call(app, "PATCH", "/users/user_ann", json={"max_concurrent_jobs": None, "daily_videos": 1})
    daily = submit(app, "user_ann")
    assert daily.status_code == 429 and "1 videos" in daily.json()["error"]
    admin_call(app, "PATCH", "/users/user_ann", json={"daily_videos": None})
    assert submit(app, "user_ann").status_code == 201
    assert account(app, "user_ann")["usage"]["daily_videos"] == 50


def test_monthly_gpu_limit_counts_this_calendar_month(clerk_app, clerk_backend, engine):
    app = clerk_app(monthly_gpu_seconds=100)
    clerk_backend.add("user_ann", ("ann@example.com", True))
    assert submit(app, "user_ann").status_code == 201
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE videos SET execution_ms = 100000, status = 'COMPLETED'"))
    refused = submit(app, "user_ann")
    assert refused.status_code == 429 and "Monthly GPU time of 100 s" in refused.json()["error"]
    assert refused.json()["frees_up_at"].endswith("01T00:00:00+00:00")
    with engine.begin() as connection:  # last month's GPU time no longer counts
        connection.execute(sa.update(videos).values(created_at=utcnow() - timedelta(days=40)))
    assert submit(app, "user_ann").status_code == 201


def test_disabling_a_user_cancels_their_jobs_and_refuses_new_ones(clerk_app, clerk_backend):
    app = clerk_app()
    first_admin(app, clerk_backend)
    clerk_backend.add("user_ann", ("ann@example.com", True))
    queued = submit(app, "user_ann").json()
    assert queued["status"] == "PENDING"

    disabled = admin_call(app, "PATCH", "/users/user_ann", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    video = httpx.get(f"{app.url}/api/videos/{queued['id']}", headers=as_user("user_ann"), timeout=30).json()
    assert video["status"] == "CANCELLED"
    refused = submit(app, "user_ann")
    assert refused.status_code == 403 and refused.json()["field"] == "account"
    admin_call(app, "PATCH", "/users/user_ann", json={"disabled": False})
    assert submit(app, "user_ann").status_code == 201


# --- the first admin ---------------------------------------------------------------------------


def test_make_admin_command_promotes_a_signed_in_user(clerk_app, clerk_backend, engine):
    app = clerk_app()
    clerk_backend.add("user_ops", ("ops@example.com", True))
    account(app, "user_ops")
    env = {"DATABASE_URL": app.database_url, "PATH": "/usr/bin:/bin"}
    unknown = subprocess.run(
        [sys.executable, "-m", "openv_app.manage", "make-admin", "nobody@example.com"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert unknown.returncode == 1 and "signs in once" in unknown.stderr
    made = subprocess.run(
        [sys.executable, "-m", "openv_app.manage", "make-admin", "OPS@example.com"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert account(app, "user_ops")["role"] == "admin"
    assert admin_call(app, "GET", "/users", user_id="user_ops").status_code == 200
