"""A channel's OAuth pair in the database: read it, store the first one, renew it once.

Zalo's refresh tokens are single-use: spending one twice (two replicas that both found
the access token expired) loses the pair for good. :func:`claim` locks the row with an
UPDATE (a row lock on PostgreSQL, the write lock on SQLite) and the renewed pair is
written by :func:`do_renew` in that same transaction, so replicas renew one at a time,
and the second one finds the pair already renewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from store.models import ChannelToken
from store.unit import Unit


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime | None = None
    refreshed: int = 0


_COLUMNS = (
    ChannelToken.access_token,
    ChannelToken.refresh_token,
    ChannelToken.access_expires_at,
    ChannelToken.refreshed,
)


async def current(tx: Unit, channel: str) -> TokenPair | None:
    row = (await tx.execute(select(*_COLUMNS).where(ChannelToken.channel == channel))).first()
    return TokenPair(*row) if row is not None else None


async def do_connect(tx: Unit, channel: str, pair: TokenPair) -> None:
    """Store the first pair (or a new one after the administrator connected again)."""
    values = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "access_expires_at": pair.access_expires_at,
        "updated_at": tx.now,
    }
    changed = await tx.execute(
        update(ChannelToken).where(ChannelToken.channel == channel).values(**values)
    )
    if not changed.rowcount:
        await tx.insert_ignore(ChannelToken, {"channel": channel, "refreshed": 0, **values})


async def claim(tx: Unit, channel: str) -> TokenPair | None:
    """The pair as it is now, its row locked until the unit ends: whoever holds it is the
    only one who may spend the refresh token."""
    row = (
        await tx.execute(
            update(ChannelToken)
            .where(ChannelToken.channel == channel)
            .values(updated_at=ChannelToken.updated_at)
            .returning(*_COLUMNS)
        )
    ).first()
    return TokenPair(*row) if row is not None else None


async def do_renew(tx: Unit, channel: str, pair: TokenPair) -> None:
    """The renewed pair, written in the unit that claimed the row."""
    await tx.execute(
        update(ChannelToken)
        .where(ChannelToken.channel == channel)
        .values(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            access_expires_at=pair.access_expires_at,
            refreshed=ChannelToken.refreshed + 1,
            updated_at=tx.now,
        )
    )
