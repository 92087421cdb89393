"""The admin page (/admin): users and their limits, vouchers, jobs in flight, the RunPod
endpoint, the audit log. Anyone but an admin sees the app's 404 page."""

from __future__ import annotations

import reflex as rx

from openv_app.components.callouts import error_callout
from openv_app.components.header import header
from openv_app.components.live_marker import LIVE_ATTRS
from openv_app.components.not_found import not_found
from openv_app.states.admin import LIMIT_FIELDS, AdminState, JobRow, UserRow, VoucherRow

LIMIT_LABELS = {
    "max_concurrent_jobs": "Jobs at once",
    "daily_videos": "Videos a day",
    "daily_gpu_seconds": "GPU s a day",
    "monthly_gpu_seconds": "GPU s a month",
}


def section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="2", width="100%")


def table(headers: list[str], rows: rx.Component, id: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(name) for name in headers])),
            rx.table.body(rows),
            size="1",
            id=id,
        ),
        overflow_x="auto",
        width="100%",
    )


def limits_form(user: UserRow) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="user_id", value=user.user_id),
            *[
                rx.input(
                    name=name,
                    default_value=getattr(user, name),
                    placeholder="default",
                    aria_label=f"{LIMIT_LABELS[name]} for {user.who}",
                    type="number",
                    min=0,
                    width="7em",
                    size="1",
                )
                for name in LIMIT_FIELDS
            ],
            rx.button("Save", type="submit", size="1", variant="soft"),
            spacing="1",
        ),
        on_submit=AdminState.save_limits,
        reset_on_submit=False,
    )


def user_row(user: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(user.who),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(aria_label=f"Role of {user.who}"),
                rx.select.content(*[rx.select.item(role, value=role) for role in ("admin", "user", "restricted")]),
                value=user.role,
                on_change=lambda role: AdminState.set_role(user.user_id, role),
                size="1",
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=~user.disabled,
                on_change=lambda enabled: AdminState.set_disabled(user.user_id, ~enabled),
                aria_label=f"{user.who} may sign in and generate",
            )
        ),
        rx.table.cell(user.gpu_today),
        rx.table.cell(user.gpu_month),
        rx.table.cell(user.jobs),
        rx.table.cell(user.failure_rate),
        rx.table.cell(limits_form(user)),
        data_user=user.user_id,
    )


def voucher_row(voucher: VoucherRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(voucher.code)),
        rx.table.cell(voucher.uses),
        rx.table.cell(voucher.note),
        rx.table.cell(voucher.expires),
        rx.table.cell(voucher.state),
        rx.table.cell(
            rx.cond(
                voucher.state == "revoked",
                rx.fragment(),
                rx.button(
                    "Revoke",
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=AdminState.revoke_voucher(voucher.code),
                    aria_label=f"Revoke {voucher.code}",
                ),
            )
        ),
    )


def new_voucher_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(name="max_uses", type="number", min=1, default_value="1", aria_label="Uses", width="6em"),
            rx.input(name="note", placeholder="Note (who it is for)", aria_label="Note", max_length=200),
            rx.input(name="code", placeholder="Code (optional)", aria_label="Code", max_length=64),
            rx.button("Create voucher", type="submit", id="create-voucher"),
            spacing="2",
            wrap="wrap",
        ),
        on_submit=AdminState.create_voucher,
    )


def job_row(job: JobRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(job.user_id),
        rx.table.cell(job.status),
        rx.table.cell(job.prompt),
        rx.table.cell(job.created),
        rx.table.cell(
            rx.button(
                "Cancel",
                size="1",
                color_scheme="red",
                variant="soft",
                on_click=AdminState.cancel_job(job.id),
                aria_label=f"Cancel the job of {job.user_id}",
            )
        ),
    )


def admin_view() -> rx.Component:
    return rx.vstack(
        rx.cond(AdminState.message != "", rx.callout(AdminState.message, icon="check", id="admin-message")),
        error_callout(AdminState.error, "admin-error"),
        section(
            "Users",
            table(
                ["User", "Role", "Enabled", "GPU today", "GPU this month", "Jobs", "Failed", "Limits (blank: default)"],
                rx.foreach(AdminState.users, user_row),
                "users-table",
            ),
        ),
        section(
            "Vouchers",
            new_voucher_form(),
            table(
                ["Code", "Used", "Note", "Expires", "State", ""],
                rx.foreach(AdminState.vouchers, voucher_row),
                "vouchers-table",
            ),
        ),
        section(
            "Jobs in flight",
            table(["User", "Status", "Prompt", "Created", ""], rx.foreach(AdminState.jobs, job_row), "jobs-table"),
        ),
        section(
            "RunPod endpoints",
            rx.vstack(rx.foreach(AdminState.endpoints, lambda line: rx.text(line)), spacing="1", id="endpoint-health"),
        ),
        section(
            "Audit log",
            table(
                ["When", "Who", "Action", "Target", "Details"],
                rx.foreach(
                    AdminState.audit,
                    lambda entry: rx.table.row(
                        rx.table.cell(entry.when),
                        rx.table.cell(entry.actor),
                        rx.table.cell(entry.action),
                        rx.table.cell(entry.target),
                        rx.table.cell(entry.details),
                    ),
                ),
                "audit-table",
            ),
        ),
        spacing="6",
        width="100%",
    )


def admin() -> rx.Component:
    return rx.container(
        rx.cond(
            AdminState.checked,
            rx.cond(
                AdminState.is_admin,
                rx.vstack(
                    header(
                        rx.heading("Admin", size="7", as_="h1", id="admin-title"),
                        link=rx.link("Back to the studio", href="/", id="to-studio"),
                    ),
                    admin_view(),
                    width="100%",
                ),
                not_found(),
            ),
        ),
        size="4",
        padding_x="1em",
        padding_bottom="3em",
        custom_attrs=LIVE_ATTRS,
    )
