"""Console sessions on the server: started by a sign-in, read on every console request,
ended by signing out, by "sign out everywhere" (in the console or from Teams) and when
the supervisor loses the role.

A cookie alone cannot be taken back; a row can. Each request reads its session by the
unique hash of the cookie's token, with the supervisor's departments, in one statement.
A unit that ends sessions names their agents in ``tx.ended_sessions``: after its commit
the store wakes this process's event streams of those agents (``store.wakeups``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update

from store.console import ConsoleDepartment, ConsoleUser, token_digest
from store.console_models import ConsoleSession
from store.models import Agent, Department, Supervisor
from store.unit import Unit
from store.views import Person

SESSION_TTL = timedelta(hours=8)
# ``last_seen_at`` is written when older than this: a write every few minutes per
# session at most, not one per request.
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    """A live session's supervisor as of now; ``stale``: its last-seen time is old."""

    user: ConsoleUser
    stale: bool


async def do_start_session(tx: Unit, agent_id: int) -> str:
    """A new session of ``agent_id``; returns the token for the cookie (only its hash is
    kept). The agent's ended sessions are cleared away in the same unit."""
    await tx.session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.agent_id == agent_id,
            or_(ConsoleSession.expires_at <= tx.now, ConsoleSession.revoked_at.is_not(None)),
        )
    )
    token = secrets.token_urlsafe(32)
    await tx.session.execute(
        insert(ConsoleSession).values(
            token_hash=token_digest(token),
            agent_id=agent_id,
            created_at=tx.now,
            last_seen_at=tx.now,
            expires_at=tx.now + SESSION_TTL,
        )
    )
    return token


async def signed_in(tx: Unit, token: str) -> SignedIn | None:
    """The supervisor of a live session (not ended, not expired) with their departments,
    else None: one indexed read."""
    rows = (
        await tx.session.execute(
            select(
                ConsoleSession.last_seen_at,
                Agent.id,
                Agent.name,
                Department.id,
                Department.key,
                Department.name,
            )
            .join(Agent, Agent.id == ConsoleSession.agent_id)
            .outerjoin(Supervisor, Supervisor.agent_id == Agent.id)
            .outerjoin(Department, Department.id == Supervisor.department_id)
            .where(
                ConsoleSession.token_hash == token_digest(token),
                ConsoleSession.revoked_at.is_(None),
                ConsoleSession.expires_at > tx.now,
            )
            .order_by(Department.name)
        )
    ).all()
    if not rows:
        return None
    last_seen, agent_id, name = rows[0][:3]
    departments = tuple(ConsoleDepartment(*row[3:]) for row in rows if row[3] is not None)
    user = ConsoleUser(agent_id, name, departments)
    return SignedIn(user, stale=last_seen <= tx.now - TOUCH_EVERY)


async def do_touch_session(tx: Unit, token: str) -> None:
    """Record that the session is in use (when its last record is old)."""
    await tx.session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.token_hash == token_digest(token),
            ConsoleSession.last_seen_at <= tx.now - TOUCH_EVERY,
        )
        .values(last_seen_at=tx.now)
        .execution_options(synchronize_session=False)
    )


async def end_sessions(tx: Unit, agent_id: int, token: str | None = None) -> None:
    """End ``agent_id``'s live sessions (only the one of ``token`` when given), in the
    caller's unit: a supervisor's removal and the end of their sessions commit together."""
    where = [ConsoleSession.agent_id == agent_id, ConsoleSession.revoked_at.is_(None)]
    if token is not None:
        where.append(ConsoleSession.token_hash == token_digest(token))
    await tx.session.execute(
        update(ConsoleSession)
        .where(*where)
        .values(revoked_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    tx.ended_sessions.add(agent_id)


async def do_sign_out(tx: Unit, token: str) -> None:
    """Sign-out: the session of this cookie ends (a session already ended: nothing)."""
    agent_id = await tx.session.scalar(
        select(ConsoleSession.agent_id).where(ConsoleSession.token_hash == token_digest(token))
    )
    if agent_id is not None:
        await end_sessions(tx, agent_id, token)


async def do_sign_out_everywhere(tx: Unit, who: int | Person) -> bool:
    """"Sign out everywhere": every console session of ``who`` ends (an agent's id from
    the console, or the person Teams proved). False: the bridge knows no such agent."""
    agent_id = (
        who
        if isinstance(who, int)
        else await tx.session.scalar(select(Agent.id).where(Agent.teams_id == who.teams_id))
    )
    if agent_id is None:
        return False
    await end_sessions(tx, agent_id)
    return True
