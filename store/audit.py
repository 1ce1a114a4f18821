"""The record of supervisors' changes (who, when, what), written by the change itself.

Each ``do_*`` that changes a department's settings calls :func:`record` in its own unit,
after its conditional write succeeded: the record can never miss a change, nor name one
that did not happen, whoever asked for it (Teams, the console, the command line).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import exists, select

from store.console_models import AuditEntry
from store.models import Supervisor
from store.unit import Unit
from store.vocabulary import Refusal, Refused


def record(
    tx: Unit, department_id: int | None, agent_id: int, action: str, detail: dict[str, Any]
) -> None:
    """Record a change in the unit that makes it, so both commit or neither does."""
    tx.session.add(
        AuditEntry(
            department_id=department_id,
            agent_id=agent_id,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
            created_at=tx.now,
        )
    )


def supervises(department_id: Any, agent_id: int) -> Any:
    """For a WHERE: the agent supervises the department (the precondition of every change
    recorded here, held by the statement that makes the change)."""
    return exists().where(
        Supervisor.agent_id == agent_id, Supervisor.department_id == department_id
    )


async def unless_supervising(tx: Unit, department_id: int, agent_id: int) -> Refused | None:
    """Why a change whose WHERE matched nothing did nothing, when it is the actor's role
    (read after the write, only to choose the answer: the write itself decided)."""
    if await tx.session.scalar(select(supervises(department_id, agent_id))):
        return None
    return Refused(Refusal.NOT_SUPERVISOR)
