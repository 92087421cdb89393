"""What stands between a signed-in user and Generate, with the way past it: a voucher field for
a restricted account, the operator's terms to accept, or why a disabled account can't."""

from __future__ import annotations

import reflex as rx

from openv_app.states.account import AccountState


def voucher_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                value=AccountState.voucher_code,
                on_change=AccountState.set_voucher_code,
                placeholder="ABCD-EFGH-JKLM",
                aria_label="Voucher code",
                id="voucher-code",
                max_length=64,
            ),
            rx.button("Redeem", type="submit", id="redeem-voucher", disabled=AccountState.voucher_code == ""),
            width="100%",
        ),
        on_submit=lambda _: AccountState.redeem_voucher(),
        width="100%",
    )


def terms_box() -> rx.Component:
    return rx.vstack(
        rx.heading(f"Terms of use (version {AccountState.terms_version})", size="3", as_="h2"),
        rx.scroll_area(
            # Plain text keeps a Markdown renderer out of the studio's first load.
            rx.text(AccountState.terms_text, white_space="pre-wrap", size="2", id="terms-text"),
            type="auto",
            scrollbars="vertical",
            style={"max_height": "12em"},
        ),
        rx.button("I accept the terms", on_click=AccountState.accept_terms, id="accept-terms"),
        spacing="2",
        width="100%",
    )


def access_panel() -> rx.Component:
    return rx.cond(
        ~AccountState.may_generate,
        rx.card(
            rx.vstack(
                rx.text(AccountState.blocked_reason, weight="medium", id="access-reason"),
                rx.match(
                    AccountState.blocked_field,
                    ("voucher", voucher_form()),
                    ("terms", terms_box()),
                    rx.fragment(),
                ),
                rx.cond(
                    AccountState.account_error != "",
                    rx.text(AccountState.account_error, color_scheme="red", size="2", id="access-error"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            id="access-panel",
        ),
    )
