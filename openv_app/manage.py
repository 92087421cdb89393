"""Operator commands that need no admin yet.

    python -m openv_app.manage make-admin USER_ID_OR_EMAIL

makes a user an admin (the first admin of a new instance: sign in once, then run this with the
Clerk user id or the e-mail the admin page would show). Uses DATABASE_URL like the app.
"""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from openv_app.db import make_sync_engine
from openv_app.models import Role, accounts, audit_log, utcnow
from openv_app.settings import get_settings


def make_admin(database_url: str, who: str) -> str:
    """The user id made admin; ValueError if no account matches `who`."""
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            match = accounts.c.email == who.lower() if "@" in who else accounts.c.user_id == who
            found = connection.execute(sa.select(accounts.c.user_id).where(match)).all()
            if len(found) != 1:
                raise ValueError(
                    f"no account for {who!r}: the user signs in once (and opens the studio) first"
                    if not found
                    else f"{len(found)} accounts have {who!r}; give the user id instead"
                )
            user_id = found[0].user_id
            now = utcnow()
            connection.execute(
                sa.update(accounts)
                .where(accounts.c.user_id == user_id)
                .values(role=Role.ADMIN, disabled_at=None, updated_at=now)
            )
            connection.execute(
                sa.insert(audit_log).values(
                    actor_id="manage.py", action="make_admin", target=user_id, details={}, created_at=now
                )
            )
    finally:
        engine.dispose()
    return user_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openv_app.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-admin", help="make a user an admin")
    make.add_argument("who", help="the Clerk user id (user_…) or the user's e-mail address")
    args = parser.parse_args(argv)
    try:
        user_id = make_admin(get_settings().database_url, args.who)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{user_id} is now an admin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
