"""The admin audit log: every admin action, written in the transaction that makes the change,
so the log and the data cannot disagree."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openv_app.db import Database
from openv_app.models import AuditEntry, audit_log, utcnow


async def record(connection: AsyncConnection, actor_id: str, action: str, target: str, **details: Any) -> None:
    await connection.execute(
        sa.insert(audit_log).values(
            actor_id=actor_id, action=action, target=target, details=details, created_at=utcnow()
        )
    )


async def recent(db: Database, limit: int = 100) -> list[AuditEntry]:
    rows = await db.rows(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
    return [AuditEntry.model_validate(row) for row in rows]
