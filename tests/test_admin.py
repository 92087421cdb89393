"""The admin API over HTTP in Clerk mode: only admins see it (everyone else gets the 404 of a
path that does not exist), the users' figures, changes, cancelling any user's job, and the
audit rows every change writes."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from openv_app.models import audit_log, utcnow, videos
from tests.support.accounts import account, admin_call, as_user, first_admin, submit
from tests.support.factories import insert_videos, video_row

ADMIN_PATHS = [
    ("GET", "/users"),
    ("PATCH", "/users/user_ann"),
    ("GET", "/vouchers"),
    ("POST", "/vouchers"),
    ("DELETE", "/vouchers/ANY-CODE"),
    ("GET", "/jobs"),
    ("POST", "/jobs/00000000-0000-0000-0000-000000000000/cancel"),
    ("GET", "/endpoint"),
    ("GET", "/audit"),
]


@pytest.fixture
def admin_app(clerk_app, clerk_backend):
    app = clerk_app()
    first_admin(app, clerk_backend)
    clerk_backend.add("user_ann", ("ann@example.com", True))
    clerk_backend.add("user_bob", ("bob@example.com", True))
    return app


@pytest.mark.parametrize("method,path", ADMIN_PATHS)
def test_everyone_but_an_admin_gets_the_404_of_a_missing_path(admin_app, method, path):
    missing = httpx.get(f"{admin_app.url}/api/admin/no-such-thing", timeout=30)
    assert missing.status_code == 404
    account(admin_app, "user_ann")
    for headers in ({}, as_user("user_ann"), {"Authorization": "Bearer forged"}):
        response = httpx.request(
            method, f"{admin_app.url}/api/admin{path}", headers=headers, json={"max_uses": 1}, timeout=30
        )
        assert response.status_code == 404, (headers, response.text)
        assert response.json() == {"error": "not found"}
    assert admin_call(admin_app, "GET", "/users").status_code == 200


def test_users_show_role_gpu_time_today_and_this_month_jobs_and_failure_rate(admin_app, engine):
    account(admin_app, "user_ann")
    now = utcnow()
    for row in (
        video_row(user_id="user_ann", status="COMPLETED", execution_ms=30_000, created_at=now),
        video_row(
            user_id="user_ann",
            status="COMPLETED",
            execution_ms=10_000,
            earlier_attempts_ms=5_000,
            created_at=now - timedelta(hours=30),
        ),
        video_row(user_id="user_ann", status="FAILED", execution_ms=1_000, created_at=now),
        video_row(user_id="user_ann", status="PROCESSING", created_at=now),
    ):
        insert_videos(engine, [row])  # one at a time: each sets other columns
    users = {user["user_id"]: user for user in admin_call(admin_app, "GET", "/users").json()}
    ann = users["user_ann"]
    assert (ann["role"], ann["email"], ann["disabled"]) == ("user", "ann@example.com", False)
    assert ann["gpu_seconds_today"] == 31.0
    # 30 hours ago is still this month unless the month began in between.
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    expected_month = 46.0 if now - timedelta(hours=30) >= month_start else 31.0
    assert ann["gpu_seconds_this_month"] == expected_month
    assert ann["jobs"] == {"COMPLETED": 2, "FAILED": 1, "PROCESSING": 1}
    assert ann["failure_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert users["user_admin"]["role"] == "admin" and users["user_admin"]["failure_rate"] is None


def test_admin_cancels_any_users_job_and_every_change_is_audited(admin_app, engine):
    queued = submit(admin_app, "user_ann").json()
    in_flight = admin_call(admin_app, "GET", "/jobs").json()
    assert [(job["id"], job["user_id"]) for job in in_flight] == [(queued["id"], "user_ann")]
    cancelled = admin_call(admin_app, "POST", f"/jobs/{queued['id']}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert admin_call(admin_app, "POST", f"/jobs/{queued['id']}/cancel", json={}).status_code == 409

    code = admin_call(admin_app, "POST", "/vouchers", json={"max_uses": 3, "note": "launch"}).json()["code"]
    admin_call(admin_app, "DELETE", f"/vouchers/{code}")
    admin_call(admin_app, "PATCH", "/users/user_ann", json={"role": "restricted", "daily_videos": 2})

    entries = admin_call(admin_app, "GET", "/audit").json()
    assert [(entry["actor_id"], entry["action"], entry["target"]) for entry in entries] == [
        ("user_admin", "change_user", "user_ann"),
        ("user_admin", "revoke_voucher", code),
        ("user_admin", "create_voucher", code),
        ("user_admin", "cancel_job", queued["id"]),
        ("manage.py", "make_admin", "user_admin"),
    ]
    assert entries[0]["details"] == {"role": "restricted", "daily_videos": 2}
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one() == 5
        assert connection.execute(sa.select(videos.c.status)).scalar_one() == "CANCELLED"
    assert submit(admin_app, "user_ann").json()["field"] == "voucher"


def test_bad_changes_are_refused_naming_the_field_and_change_nothing(admin_app, engine):
    account(admin_app, "user_ann")
    for body, field in (
        ({"role": "owner"}, "role"),
        ({"daily_videos": -1}, "daily_videos"),
        ({"disabled": "maybe"}, "disabled"),
        ({"nickname": "x"}, "nickname"),
    ):
        response = admin_call(admin_app, "PATCH", "/users/user_ann", json=body)
        assert response.status_code == 400 and response.json()["field"] == field, body
    assert admin_call(admin_app, "PATCH", "/users/nobody", json={"role": "user"}).status_code == 404
    demote_self = admin_call(admin_app, "PATCH", "/users/user_admin", json={"role": "user"})
    assert demote_self.status_code == 409
    assert admin_call(admin_app, "PATCH", "/users/user_admin", json={"disabled": True}).status_code == 409
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one() == 1


def test_promoted_admin_sees_the_admin_api_and_demoted_one_does_not(admin_app):
    account(admin_app, "user_bob")
    assert admin_call(admin_app, "GET", "/users", user_id="user_bob").status_code == 404
    admin_call(admin_app, "PATCH", "/users/user_bob", json={"role": "admin"})
    assert admin_call(admin_app, "GET", "/users", user_id="user_bob").status_code == 200
    admin_call(admin_app, "PATCH", "/users/user_bob", json={"role": "user"})
    assert admin_call(admin_app, "GET", "/users", user_id="user_bob").status_code == 404


def test_endpoint_health_is_runpods(admin_app):
    health = admin_call(admin_app, "GET", "/endpoint")
    assert health.status_code == 200
    assert all({"jobs", "workers"} <= set(each) for each in health.json().values())  # {model: health}
