"""The Teams message extension: search the canned answers from the compose box.

Teams sends ``composeExtension/query`` and shows the synchronous answer's results;
the one the agent picks goes into their message, so the agent still sends it
(relayed like any reply of theirs). Answers are those of the room's department
and the company-wide ones; in a chat's thread ``{customer}`` is filled too.
"""

from __future__ import annotations

from typing import Any

from cards.canned import extension_result
from dialogs.agents import InvokeAnswer
from dialogs.canned import fill
from dialogs.context import FlowContext
from dialogs.turn import Turn
from store import canned

QUERY_INVOKE = "composeExtension/query"
# The command's id in the Teams manifest (bot/teams_package.py).
SEARCH_COMMAND = "searchCanned"
RESULT_LIMIT = 25


def _query_of(value: dict[str, Any] | None) -> str:
    """The search text: the ``query`` parameter (absent or ``initialRun``: everything)."""
    parameters = value.get("parameters") if isinstance(value, dict) else None
    for parameter in parameters if isinstance(parameters, list) else []:
        if isinstance(parameter, dict) and parameter.get("name") == "query":
            found = parameter.get("value")
            return found.strip().lower().removeprefix("/") if isinstance(found, str) else ""
    return ""


async def query(ctx: FlowContext, turn: Turn) -> InvokeAnswer:
    """Canned answers whose shortcut starts with, or whose text contains, the query."""
    command = turn.value.get("commandId") if turn.value is not None else None
    if command is not None and command != SEARCH_COMMAND:
        return InvokeAnswer(400, {"error": f"unknown message extension command {command!r}"})
    search = _query_of(turn.value)
    async with ctx.store.reading() as tx:
        found = await canned.canned_answers(tx, channel_id=turn.room, thread_id=turn.thread)
    agent = turn.person.name
    by_shortcut = [a for a in found.answers if a.shortcut.startswith(search)]
    by_text = [a for a in found.answers if a not in by_shortcut and search in a.text.lower()]
    results = [
        (answer, fill(answer.text, customer=found.customer_name, agent=agent))
        for answer in [*by_shortcut, *by_text][:RESULT_LIMIT]
    ]
    return InvokeAnswer(200, extension_result(results))
