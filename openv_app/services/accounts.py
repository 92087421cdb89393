"""Who may generate: each user's account (made the first time the app sees them, with the role
the access policy gives a newcomer), the operator's terms, and the user's limits.

Checked inside the submit transaction that holds the user's lock (`JobService.submit`), so a
user an admin disables or restricts cannot slip a job in while that happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openv_app.db import Database
from openv_app.models import Account, Role, accounts, terms_acceptances, utcnow
from openv_app.services.errors import Conflict, Forbidden, UpstreamUnavailable
from openv_app.settings import Settings

log = logging.getLogger(__name__)


class EmailLookup(Protocol):
    async def verified_email(self, user_id: str) -> str | None:
        """The user's verified primary e-mail address (None: none verified). Raises
        UpstreamUnavailable when the identity provider cannot be asked."""


@dataclass(frozen=True)
class Limits:
    """A user's limits: the instance's settings, or an admin's override for this user."""

    max_concurrent_jobs: int
    daily_videos: int
    daily_gpu_seconds: int | None
    monthly_gpu_seconds: int | None

    @classmethod
    def of(cls, settings: Settings, account: Account | None) -> Limits:
        def pick(override: int | None, default: int | None) -> int | None:
            return default if override is None else override

        own = account or Account(user_id="", role=Role.USER)
        return cls(
            max_concurrent_jobs=pick(own.max_concurrent_jobs, settings.max_concurrent_jobs) or 0,
            daily_videos=pick(own.daily_videos, settings.daily_quota) or 0,
            daily_gpu_seconds=pick(own.daily_gpu_seconds, settings.daily_gpu_seconds),
            monthly_gpu_seconds=pick(own.monthly_gpu_seconds, settings.monthly_gpu_seconds),
        )


def is_allowlisted(email: str | None, allowlist: list[str]) -> bool:
    """An address on the list, or one whose domain is (entries are lower-case)."""
    if not email or "@" not in email:
        return False
    email = email.lower()
    return email in allowlist or email.rsplit("@", 1)[1] in allowlist


def role_for_newcomer(settings: Settings, email: str | None) -> str:
    """The role the access policy gives a user the first time the app sees them."""
    if settings.dev_auth:
        return Role.ADMIN  # the dev sign-in's one user runs the instance
    if settings.access_policy == "open":
        return Role.USER
    if settings.access_policy == "allowlist" and is_allowlisted(email, settings.access_allowlist):
        return Role.USER
    return Role.RESTRICTED


@dataclass(frozen=True)
class Terms:
    version: str
    text: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Terms | None:
        if settings.terms_file is None or settings.terms_version is None:
            return None
        return cls(settings.terms_version, Path(settings.terms_file).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Standing:
    """What the studio needs to know about a user before offering Generate."""

    account: Account
    terms_accepted: bool

    @property
    def blocker(self) -> Forbidden | None:
        """Why this user may not submit now (None: they may)."""
        if self.account.disabled_at is not None:
            return Forbidden("Your account is disabled; ask the instance's operator.", field="account")
        if self.account.role == Role.RESTRICTED:
            return Forbidden("Your account can't generate videos yet: redeem a voucher first.", field="voucher")
        if not self.terms_accepted:
            return Forbidden("Accept the terms of use before generating.", field="terms")
        return None


@dataclass
class Accounts:
    settings: Settings
    db: Database
    emails: EmailLookup | None = None

    def __post_init__(self) -> None:
        self.terms = Terms.from_settings(self.settings)

    async def get(self, user_id: str) -> Account:
        """The user's account, made now if the app has not seen them before."""
        found = await self._select(user_id)
        return found if found is not None else await self._create(user_id)

    async def standing(self, user_id: str) -> Standing:
        account = await self.get(user_id)
        async with self.db.transaction() as connection:
            return Standing(account, await self._terms_accepted(connection, user_id))

    async def check_may_generate(self, connection: AsyncConnection, user_id: str) -> Limits:
        """Raise Forbidden unless the user may submit now; their limits otherwise. Run inside
        the submit transaction, after `get` made sure the account exists."""
        row = (await connection.execute(sa.select(accounts).where(accounts.c.user_id == user_id))).mappings().one()
        account = Account.model_validate(row)
        blocker = Standing(account, await self._terms_accepted(connection, user_id)).blocker
        if blocker is not None:
            raise blocker
        return Limits.of(self.settings, account)

    async def limits(self, user_id: str) -> Limits:
        return Limits.of(self.settings, await self._select(user_id))

    async def accept_terms(self, user_id: str, version: str) -> None:
        """Record that the user accepted this version (the current one; accepting twice is fine)."""
        if self.terms is None:
            raise Conflict("This instance has no terms to accept.", field="version")
        if version != self.terms.version:
            raise Conflict(
                f"version: {version!r} is not the current terms (version {self.terms.version!r}); reload them.",
                field="version",
            )
        await self.get(user_id)
        try:
            await self.db.rows(
                sa.insert(terms_acceptances).values(user_id=user_id, version=version, accepted_at=utcnow())
            )
        except sa.exc.IntegrityError:
            pass  # accepted before: the first acceptance's time stands

    async def _terms_accepted(self, connection: AsyncConnection, user_id: str) -> bool:
        if self.terms is None:
            return True
        accepted = sa.select(terms_acceptances.c.version).where(
            terms_acceptances.c.user_id == user_id, terms_acceptances.c.version == self.terms.version
        )
        return (await connection.execute(accepted)).first() is not None

    async def _select(self, user_id: str) -> Account | None:
        rows = await self.db.rows(sa.select(accounts).where(accounts.c.user_id == user_id))
        return Account.model_validate(rows[0]) if rows else None

    async def _create(self, user_id: str) -> Account:
        email = await self._email(user_id)
        account = Account(user_id=user_id, email=email, role=role_for_newcomer(self.settings, email))
        try:
            await self.db.rows(sa.insert(accounts).values(account.model_dump(exclude_none=True)))
            log.info("new account %s (%s) as %s", user_id, email or "no e-mail", account.role)
        except sa.exc.IntegrityError:
            pass  # a concurrent request made it first
        created = await self._select(user_id)
        assert created is not None
        return created

    async def _email(self, user_id: str) -> str | None:
        if self.emails is None:
            return None
        try:
            return await self.emails.verified_email(user_id)
        except UpstreamUnavailable:
            if self.settings.access_policy == "allowlist":
                raise  # the role depends on it: ask again on the next request
            log.warning("could not read %s's e-mail from Clerk; the account is made without it", user_id)
            return None
