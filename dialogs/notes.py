"""Internal notes: ``// text`` or ``/note text`` in a chat's thread, kept in the transcript
as internal and never sent to the customer."""

from __future__ import annotations

from dialogs.commands import NOTE_PREFIX
from dialogs.context import FlowContext
from dialogs.notices import mention_answer, mention_reply
from dialogs.turn import Turn
from store import notes
from store.notes import NoteAdded
from store.outbox import Outgoing
from store.vocabulary import Refused


def note_text(text: str) -> str | None:
    """The note in a thread reply that starts with ``//``, None for any other reply."""
    stripped = text.strip()
    return stripped.removeprefix(NOTE_PREFIX).strip() if stripped.startswith(NOTE_PREFIX) else None


def notify_note(ctx: FlowContext, turn: Turn, outcome: NoteAdded | Refused) -> list[Outgoing]:
    """The agent's own message in the thread already shows a kept note, so the bridge adds
    nothing there (a confirmation would only be noise); a refused one is explained."""
    if isinstance(outcome, Refused):
        return [mention_answer(ctx, turn, "refusal.note_not_allowed")]
    return []


async def add_note(ctx: FlowContext, turn: Turn, text: str) -> None:
    """Keep the note, once per inbound activity (a refused one too: a re-delivery is
    not answered twice)."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
    elif not text:
        await mention_reply(ctx, turn, "notes.usage")
    else:
        keys = turn.keys
        async with ctx.store.unit() as tx:
            if not await tx.first_time(keys):
                return
            outcome = await notes.do_add_note(
                tx, chat_id, turn.person, text, keys[0] if keys else None
            )
            tx.enqueue(notify_note(ctx, turn, outcome))


async def note_command(ctx: FlowContext, turn: Turn) -> None:
    """``/note text``: the same as ``// text``."""
    await add_note(ctx, turn, turn.argument)
