"""The agents' commands: each word and the handler that runs it, the one list of them.

The bridge looks words up here, ``@Bot word`` is a command only for a word listed here,
and a canned answer's shortcut may be none of them (``/who`` would run the command,
never send the answer). Every handler has the one signature of :data:`Handler` and reads
its word and argument from ``turn.command``; each checks where it was given (a thread
command at the channel's root is answered with how to use it).
"""

from __future__ import annotations

from cards.actions import INVITE, JOIN, LEAVE, TRANSFER
from dialogs import (
    agents,
    ai,
    assignment,
    canned,
    console,
    contacts,
    departments,
    firstbot,
    lists,
    notes,
    presence,
    routing,
    tags,
    targets,
    team,
)
from dialogs.commands import SETUP
from dialogs.turn import Handler

COMMANDS: dict[str, Handler] = {
    **dict.fromkeys(presence.WORDS, presence.set_availability),  # online, away, offline
    **dict.fromkeys((JOIN, LEAVE, INVITE, TRANSFER), team.thread_command),
    "close": agents.close_command,
    "chats": lists.chat_list,
    "history": lists.chat_list,
    "supervisor": lists.supervisor,
    "status": presence.status_card,
    "who": departments.who,
    "capacity": departments.capacity,
    "assignment": assignment.assignment_command,
    "targets": targets.targets_command,
    "firstbot": firstbot.first_bot_command,
    "pass": assignment.pass_command,
    "move": routing.move,
    "timezone": departments.time_zone,
    "help": agents.help_reply,
    "canned": canned.manage,
    "tags": tags.manage,
    "tag": tags.tag_command,
    "untag": tags.tag_command,
    "note": notes.note_command,
    "contact": contacts.contact_command,
    "unlink": contacts.unlink_command,
    "askphone": contacts.ask_phone_command,
    "suggest": ai.suggest_command,
    "translate": ai.translate_command,
    "console": console.console_link,
    "report": console.report,
}

# Every command word: the table's, and ``setup`` (run by the bridge itself).
WORDS: frozenset[str] = frozenset(COMMANDS) | {SETUP}
# What agents see in the Teams app's command menu, in its order, each with the key of its
# description (Teams shows at most ten; ``bot/teams_package.py`` writes it from here).
MENU: dict[str, str] = {
    "online": "teams.command.online",
    "chats": "teams.command.chats",
    "history": "teams.command.history",
    "who": "teams.command.who",
    INVITE: "teams.command.invite",
    TRANSFER: "teams.command.transfer",
    JOIN: "teams.command.join",
    "close": "teams.command.close",
    SETUP: "teams.command.setup",
    "help": "teams.command.help",
}

# Commands that may run in a channel that is not a room yet (in the company's tenant).
OUTSIDE_ROOMS: frozenset[str] = frozenset({SETUP, "help"})
