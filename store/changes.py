"""Every change the store makes, each with the one ``do_*`` that makes it.

One change has one ``do_*``, whoever asks for it (Teams, the console, the command line):
its preconditions in its WHERE, its audit entry (where the change is a supervisor's)
written inside it. Two write paths for one change drift apart (before, the console's
capacity checked in a read and wrote an audit entry the room's command did not).
``tests/test_store_writers.py`` holds this list equal to the store's ``do_*`` functions,
checks that each writes the table it names here, and fails on two for one change.

To add a change: one ``do_*`` in its aggregate's module, one line here.
"""

from __future__ import annotations

# (table the change is about, the change) -> "module.function" under store/.
CHANGES: tuple[tuple[tuple[str, str], str], ...] = (
    # A customer's side.
    (("messages", "customer message"), "intake.do_customer_message"),
    (("chats", "choose department"), "routing.do_choose_department"),
    (("ratings", "rate chat"), "ratings.do_rate_chat"),
    (("ratings", "comment after the score"), "ratings.do_comment"),
    (("chats", "mailed the agents' lines"), "mail.do_mark_mailed"),
    # A chat's life in the team.
    (("chats", "accept"), "chats.do_accept"),
    (("messages", "agent message"), "chats.do_agent_message"),
    (("chats", "close"), "chats.do_close"),
    (("chats", "announce again"), "routing.do_announce"),
    (("chats", "move to another department"), "routing.do_move"),
    (("participants", "join"), "moves.do_join"),
    (("participants", "leave"), "moves.do_leave"),
    (("chats", "offer a new chat to one agent (automatic assignment)"), "assignment.do_assign"),
    (("chats", "offer the queue's head to a freed agent"), "assignment.do_offer_waiting"),
    (("chats", "pass an offered chat on"), "assignment.do_pass_offer"),
    (("chats", "remind the owner of a response target"), "targets.do_remind"),
    (("chats", "a response target breached"), "targets.do_breach"),
    (("offers", "offer (invite, transfer)"), "offers.do_offer"),
    (("offers", "answer an offer"), "offers.do_answer_offer"),
    (("offers", "expire an offer"), "offers.do_expire_offer"),
    (("messages", "note"), "notes.do_add_note"),
    (("chat_tags", "tag a chat"), "tags.do_tag_chat"),
    (("typing_marks", "pass a typing indicator on"), "indicators.do_typing"),
    # Agents.
    (("agents", "availability"), "availability.do_set_availability"),
    (("agents", "availability from presence"), "presence.do_follow_presence"),
    (("department_members", "roster"), "availability.do_roster"),
    # A department's settings, by its supervisors (each recorded in the audit).
    (("departments", "setup (room and first supervisor)"), "rooms.do_setup_room"),
    (("departments", "capacity"), "departments.do_set_capacity"),
    (("departments", "time zone"), "departments.do_set_time_zone"),
    (("departments", "names per language"), "departments.do_set_names"),
    (("departments", "assignment mode"), "departments.do_set_assignment"),
    (("departments", "response-time targets"), "departments.do_set_targets"),
    (("departments", "the company's bot answers first"), "departments.do_set_first_bot"),
    (("departments", "queue priority"), "departments.do_set_queue_priority"),
    (("department_hours", "business hours"), "console_settings.do_set_hours"),
    (("supervisors", "add a supervisor"), "supervisors.do_add_supervisor"),
    (("supervisors", "remove a supervisor"), "supervisors.do_remove_supervisor"),
    (("tags", "add tags"), "tags.do_add_tags"),
    (("tags", "remove a tag"), "tags.do_remove_tag"),
    (("tag_requirements", "require a tag"), "tags.do_require_tag"),
    (("canned_answers", "add (or replace) a canned answer"), "canned.do_add_canned"),
    (("canned_answers", "remove a canned answer"), "canned.do_remove_canned"),
    # The console.
    (("console_links", "issue a sign-in link"), "console.do_issue_console_link"),
    (("console_sessions", "start a session"), "console_sessions.do_start_session"),
    (("console_sessions", "note a session's use"), "console_sessions.do_touch_session"),
    (("console_sessions", "sign out"), "console_sessions.do_sign_out"),
    (("console_sessions", "sign out everywhere"), "console_sessions.do_sign_out_everywhere"),
    (("report_days", "keep a settled day's report figures"), "report_days.do_keep_report_days"),
    # AI help's budgets (a call claimed per chat and per department's day).
    (("ai_budgets", "claim an AI call"), "ai.do_claim_call"),
    # One person on several channels (their contacts; a match an agent says is wrong).
    (("customer_contacts", "a contact the channel verified"), "contacts.do_share_contact"),
    (("customer_contacts", "a contact an agent recorded"), "contacts.do_record_contact"),
    (("customer_unlinks", "unlink a match"), "contacts.do_unlink"),
    # A company bot answering first (its conversation, its answers, its hand-over).
    (("first_bot_chats", "a chat goes to the bot first"), "firstbot.do_start"),
    (("first_bot_chats", "the bot's conversation started"), "firstbot.do_start_conversation"),
    (("first_bot_chats", "a token that ran out renewed"), "firstbot.do_renew_token"),
    (("chats", "a line relayed to the bot (its deadline)"), "firstbot.do_relayed"),
    (("first_bot_chats", "the bot answered"), "firstbot.do_bot_said"),
    (("first_bot_chats", "the bot hands the chat to people"), "firstbot.do_hand_over"),
    # A channel's own credentials (Zalo's OA tokens).
    (("channel_tokens", "connect a channel (first token pair)"), "tokens.do_connect"),
    (("channel_tokens", "renew a channel's token"), "tokens.do_renew"),
)
