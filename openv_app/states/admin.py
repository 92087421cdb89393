"""The admin page's state: the rows it shows (plain text, made here once) and the admin's
actions, each checked again on the server (`Admin.require_admin`) and written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from pydantic import ValidationError

from openv_app.services.admin import Admin, JobInFlight, UserChanges, UserOverview
from openv_app.services.errors import AppError, InvalidInput, invalid_input
from openv_app.services.vouchers import VoucherSpec
from openv_app.services.wiring import get_job_service
from openv_app.states.session import SessionState
from worker.contract import MODEL_SPECS

LIMIT_FIELDS = ("max_concurrent_jobs", "daily_videos", "daily_gpu_seconds", "monthly_gpu_seconds")


@dataclass
class UserRow:
    user_id: str = ""
    who: str = ""
    role: str = ""
    disabled: bool = False
    gpu_today: str = ""
    gpu_month: str = ""
    jobs: str = ""
    failure_rate: str = ""
    # The overrides as the form shows them ("" = the instance's setting).
    max_concurrent_jobs: str = ""
    daily_videos: str = ""
    daily_gpu_seconds: str = ""
    monthly_gpu_seconds: str = ""


@dataclass
class VoucherRow:
    code: str = ""
    uses: str = ""
    note: str = ""
    expires: str = ""
    state: str = ""


@dataclass
class JobRow:
    id: str = ""
    user_id: str = ""
    status: str = ""
    prompt: str = ""
    created: str = ""


@dataclass
class AuditRow:
    when: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    details: str = ""


def user_row(user: UserOverview) -> UserRow:
    jobs = ", ".join(f"{count} {status.lower()}" for status, count in sorted(user.jobs.items())) or "none"
    return UserRow(
        user_id=user.user_id,
        who=user.email or user.user_id,
        role=user.role,
        disabled=user.disabled,
        gpu_today=f"{user.gpu_seconds_today:.0f} s",
        gpu_month=f"{user.gpu_seconds_this_month:.0f} s",
        jobs=jobs,
        failure_rate="—" if user.failure_rate is None else f"{user.failure_rate:.0%}",
        **{name: "" if getattr(user, name) is None else str(getattr(user, name)) for name in LIMIT_FIELDS},
    )


def job_row(job: JobInFlight) -> JobRow:
    return JobRow(job.id, job.user_id, job.stage or job.status, job.prompt[:80], f"{job.created_at:%Y-%m-%d %H:%M}")


def health_line(health: dict[str, Any]) -> str:
    """An endpoint's `/health` in a line (or why it did not answer)."""
    if "error" in health:
        return f"did not answer: {health['error']}"
    return f"workers {health.get('workers', {})} · jobs {health.get('jobs', {})}"


def limit_changes(form: dict[str, Any]) -> UserChanges:
    """The limits form: a blank field goes back to the instance's setting."""
    values = {name: (str(form.get(name, "")).strip() or None) for name in LIMIT_FIELDS}
    try:
        return UserChanges.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error) from error


class AdminState(SessionState):
    checked: bool = False
    is_admin: bool = False
    users: list[UserRow] = []
    vouchers: list[VoucherRow] = []
    jobs: list[JobRow] = []
    audit: list[AuditRow] = []
    endpoints: list[str] = []  # one line per model: its endpoint's workers and jobs
    message: str = ""
    error: str = ""

    async def _admin(self) -> tuple[Admin, str]:
        admin = Admin(get_job_service())
        user = self._current_user()
        await admin.require_admin(user)
        return admin, user

    @rx.event
    async def load_admin(self) -> None:
        try:
            admin, _ = await self._admin()
        except AppError:
            self.checked, self.is_admin = True, False
            return
        self.checked, self.is_admin = True, True
        await self._reload(admin)

    async def _reload(self, admin: Admin) -> None:
        self.users = [user_row(user) for user in await admin.users()]
        self.vouchers = [
            VoucherRow(
                code=voucher.code,
                uses=f"{voucher.uses} of {voucher.max_uses}",
                note=voucher.note,
                expires=f"{voucher.expires_at:%Y-%m-%d %H:%M}" if voucher.expires_at else "never",
                state="revoked" if voucher.revoked_at else ("used up" if voucher.uses >= voucher.max_uses else "open"),
            )
            for voucher in await admin.vouchers.all()
        ]
        self.jobs = [job_row(job) for job in await admin.jobs_in_flight()]
        self.audit = [
            AuditRow(
                f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                entry.actor_id,
                entry.action,
                entry.target,
                ", ".join(f"{key}={value}" for key, value in entry.details.items()),
            )
            for entry in await admin.audit_log(50)
        ]
        try:
            self.endpoints = [
                f"{MODEL_SPECS[model].name}: " + health_line(health)
                for model, health in (await admin.endpoint_health()).items()
            ]
        except Exception as error:  # the page still shows everything else
            self.endpoints = [f"RunPod did not answer: {error}"]

    async def _act(self, action: Any, done: str) -> None:
        """Run one admin action, then show its result and the fresh tables."""
        self.error, self.message = "", ""
        try:
            admin, actor = await self._admin()
            await action(admin, actor)
        except AppError as error:
            self.error = error.message
            return
        self.message = done
        await self._reload(admin)

    @rx.event
    async def set_role(self, user_id: str, role: str) -> None:
        changes = UserChanges.model_validate({"role": role}) if role in ("admin", "user", "restricted") else None
        if changes is None:
            return
        await self._act(lambda admin, actor: admin.change_user(actor, user_id, changes), f"{user_id} is now {role}")

    @rx.event
    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        changes = UserChanges.model_validate({"disabled": bool(disabled)})
        done = f"{user_id} {'disabled, their jobs cancelled' if disabled else 'enabled'}"
        await self._act(lambda admin, actor: admin.change_user(actor, user_id, changes), done)

    @rx.event
    async def save_limits(self, form: dict[str, Any]) -> None:
        user_id = str(form.get("user_id", ""))
        try:
            changes = limit_changes(form)
        except InvalidInput as error:
            self.error = error.message
            return
        await self._act(lambda admin, actor: admin.change_user(actor, user_id, changes), f"Limits of {user_id} saved")

    @rx.event
    async def create_voucher(self, form: dict[str, Any]) -> None:
        try:
            spec = VoucherSpec.model_validate(
                {"max_uses": form.get("max_uses") or 1, "note": form.get("note", ""), "code": form.get("code") or None}
            )
        except ValidationError as error:
            self.error = invalid_input(error).message
            return
        created: list[str] = []

        async def create(admin: Admin, actor: str) -> None:
            created.append((await admin.create_voucher(actor, spec)).code)

        await self._act(create, "Voucher created")
        if created:
            self.message = f"Voucher {created[0]} created"

    @rx.event
    async def revoke_voucher(self, code: str) -> None:
        await self._act(lambda admin, actor: admin.revoke_voucher(actor, code), f"Voucher {code} revoked")

    @rx.event
    async def cancel_job(self, video_id: str) -> None:
        await self._act(lambda admin, actor: admin.cancel_job(actor, video_id), "Job cancelled")
