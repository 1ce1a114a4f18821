"""The console's actions on a chat: a supervisor joins it from the live page.

The same Join as the card's and ``/join`` in the thread (``moves.do_join``: a supervisor
of the chat's department, not seated yet, the chat not closed, all in its WHERE), and the
same notice: the chat's card in Teams is redrawn with the supervisor among its people.
The console has no Teams activity, so there are no inbound keys: a second press finds
the supervisor seated and is refused (``already_in_chat``), which seats nobody twice.
"""

from __future__ import annotations

from dialogs.agents import redrawn
from dialogs.context import FlowContext
from store import moves, people
from store.moves import Joined
from store.vocabulary import Refused


async def console_join(ctx: FlowContext, agent_id: int, chat_id: int) -> Joined | Refused:
    """The signed-in supervisor (an agent the room knows, by their Teams user) joins."""
    async with ctx.store.unit() as tx:
        person = await people.person_by_id(tx, agent_id)
        outcome = await moves.do_join(tx, chat_id, person)
        if isinstance(outcome, Joined):
            tx.enqueue([redrawn(ctx, outcome.chat)])
        return outcome
