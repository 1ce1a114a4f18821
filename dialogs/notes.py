"""Internal notes: ``// text`` or ``/note text`` in a chat's thread, kept in the transcript
as internal and never sent to the customer."""

from __future__ import annotations

from typing import Any

from dialogs.activity import activity_keys, person_of, thread_of
from dialogs.commands import NOTE_PREFIX, Command
from dialogs.context import FlowContext
from dialogs.notices import mention_answer, mention_reply
from store.tools import NoteRefused


def note_text(text: str) -> str | None:
    """The note in a thread reply that starts with ``//``, None for any other reply."""
    stripped = text.strip()
    return stripped.removeprefix(NOTE_PREFIX).strip() if stripped.startswith(NOTE_PREFIX) else None


async def add_note(ctx: FlowContext, activity: dict[str, Any], text: str) -> None:
    """Store the note. The agent's own message in the thread already shows it, so the
    bridge adds nothing there: a confirmation would only be noise in the thread."""
    thread = thread_of(activity)
    chat_id = await ctx.chat_for_thread(thread) if thread else None
    if chat_id is None:
        await mention_reply(ctx, activity, "agent.no_chat")
    elif not text:
        await mention_reply(ctx, activity, "notes.usage")
    else:
        outcome = await ctx.store.add_note(
            chat_id, person_of(activity), text, activity_keys(activity)
        )
        if isinstance(outcome, NoteRefused):
            # The refused note's keys are recorded: a re-delivery is a Duplicate.
            await ctx.store.notify((), [mention_answer(ctx, activity, "refusal.note_not_allowed")])


async def note_command(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    await add_note(ctx, activity, command.argument)
