"""Vouchers: codes an admin hands out; redeeming one makes a restricted user a full user.

A redemption claims one use with a single conditional UPDATE, so concurrent redemptions of a
code (from any number of processes) succeed exactly as many times as it has uses.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from openv_app.db import Database
from openv_app.models import Role, Voucher, accounts, utcnow, voucher_redemptions, vouchers
from openv_app.services.accounts import Accounts
from openv_app.services.errors import Conflict, InvalidInput, NotFound

# No 0/O or 1/I: codes are read aloud and typed from paper.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{3,63}$"


def new_code() -> str:
    """Three groups of four (60 bits): not guessable at any rate the API allows."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))


def normalized(code: str) -> str:
    return code.strip().upper()


class VoucherSpec(BaseModel):
    """What an admin asks for when creating a voucher."""

    model_config = ConfigDict(extra="forbid")

    max_uses: int = Field(default=1, ge=1, le=100_000)
    expires_at: datetime | None = None
    note: str = Field(default="", max_length=200)
    # A code of the admin's choosing (e.g. LAUNCH-2027); default: a random one.
    code: str | None = Field(default=None, pattern=CODE_PATTERN)

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must include a time zone (e.g. 2027-01-31T00:00:00Z)")
        if value <= utcnow():
            raise ValueError("must be in the future")
        return value


def _usable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        vouchers.c.revoked_at.is_(None),
        vouchers.c.uses < vouchers.c.max_uses,
        sa.or_(vouchers.c.expires_at.is_(None), vouchers.c.expires_at > now),
    )


@dataclass
class Vouchers:
    db: Database
    accounts: Accounts

    async def all(self) -> list[Voucher]:
        rows = await self.db.rows(sa.select(vouchers).order_by(vouchers.c.created_at.desc()))
        return [Voucher.model_validate(row) for row in rows]

    async def create(self, connection: AsyncConnection, actor_id: str, spec: VoucherSpec) -> Voucher:
        voucher = Voucher(
            code=spec.code or new_code(),
            max_uses=spec.max_uses,
            expires_at=spec.expires_at,
            note=spec.note,
            created_by=actor_id,
        )
        exists = sa.select(vouchers.c.code).where(vouchers.c.code == voucher.code)
        if (await connection.execute(exists)).first() is not None:
            raise Conflict("code: a voucher with this code exists", field="code")
        await connection.execute(sa.insert(vouchers).values(voucher.model_dump(exclude_none=True)))
        return voucher

    async def revoke(self, connection: AsyncConnection, code: str) -> Voucher:
        revoked = await connection.execute(
            sa.update(vouchers)
            .where(vouchers.c.code == normalized(code))
            .values(revoked_at=sa.func.coalesce(vouchers.c.revoked_at, utcnow()))
            .returning(vouchers)
        )
        row = revoked.mappings().first()
        if row is None:
            raise NotFound("voucher not found")
        return Voucher.model_validate(row)

    async def redeem(self, user_id: str, code: str) -> None:
        """Make the restricted user a full user with one use of the code."""
        code, now = normalized(code), utcnow()
        await self.accounts.get(user_id)
        async with self.db.transaction(lock_key=f"submit:{user_id}") as connection:
            role = (
                await connection.execute(sa.select(accounts.c.role).where(accounts.c.user_id == user_id))
            ).scalar_one()
            if role != Role.RESTRICTED:
                raise Conflict("code: your account can already generate videos", field="code")
            claimed = await connection.execute(
                sa.update(vouchers)
                .where(vouchers.c.code == code, _usable(now))
                .values(uses=vouchers.c.uses + 1)
                .returning(vouchers.c.code)
            )
            if claimed.first() is None:
                raise await self._why_unusable(connection, code, now)
            try:
                await connection.execute(
                    sa.insert(voucher_redemptions).values(code=code, user_id=user_id, redeemed_at=now)
                )
            except sa.exc.IntegrityError as error:  # rolled back with the claimed use
                raise Conflict("code: you have redeemed this voucher before", field="code") from error
            await connection.execute(
                sa.update(accounts).where(accounts.c.user_id == user_id).values(role=Role.USER, updated_at=now)
            )

    async def _why_unusable(self, connection: AsyncConnection, code: str, now: datetime) -> InvalidInput:
        row = (await connection.execute(sa.select(vouchers).where(vouchers.c.code == code))).mappings().first()
        if row is None:
            return InvalidInput("code: no such voucher", field="code")
        voucher = Voucher.model_validate(row)
        if voucher.revoked_at is not None:
            return InvalidInput("code: this voucher was revoked", field="code")
        if voucher.expires_at is not None and voucher.expires_at <= now:
            return InvalidInput("code: this voucher has expired", field="code")
        return InvalidInput("code: this voucher has been used up", field="code")
