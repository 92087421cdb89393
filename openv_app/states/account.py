"""The signed-in user's standing in the studio: may they generate, and if not, the one thing
that would change it (redeem a voucher, accept the operator's terms)."""

from __future__ import annotations

import reflex as rx

from openv_app.models import Role
from openv_app.schemas import AccountOut
from openv_app.services.errors import AppError, AuthError
from openv_app.services.views import account_view
from openv_app.services.vouchers import Vouchers
from openv_app.services.wiring import get_job_service
from openv_app.states.session import SessionState


class AccountState(SessionState):
    role: str = ""
    may_generate: bool = True
    blocked_reason: str = ""
    blocked_field: str = ""
    terms_version: str = ""
    terms_text: str = ""
    voucher_code: str = ""
    account_error: str = ""

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @rx.event
    async def load_account(self) -> None:
        await self._load()

    async def _load(self) -> None:
        try:
            user = self._current_user()
        except AuthError:
            return
        self._show(await account_view(get_job_service(), user))

    def _show(self, account: AccountOut) -> None:
        self.role, self.may_generate = account.role, account.may_generate
        self.blocked_reason, self.blocked_field = account.blocked_reason or "", account.blocked_field or ""
        terms = get_job_service().accounts.terms
        self.terms_version = terms.version if terms and not account.terms_accepted else ""
        self.terms_text = terms.text if terms and not account.terms_accepted else ""

    @rx.event
    def set_voucher_code(self, value: str) -> None:
        self.voucher_code, self.account_error = value, ""

    @rx.event
    async def redeem_voucher(self) -> None:
        service = get_job_service()
        try:
            user = self._current_user()
            await Vouchers(service.db, service.accounts).redeem(user, self.voucher_code)
        except AppError as error:
            self.account_error = error.message
            return
        self.voucher_code, self.account_error = "", ""
        self._show(await account_view(service, user))

    @rx.event
    async def accept_terms(self) -> None:
        service = get_job_service()
        try:
            user = self._current_user()
            await service.accounts.accept_terms(user, self.terms_version)
        except AppError as error:
            self.account_error = error.message
            return
        self.account_error = ""
        self._show(await account_view(service, user))
