"""Customer satisfaction: the question after close, and the answer (card or typed).

A rating is recognised before the intake opens a chat: a press of the rating card
(``value.action == "rate"``) always is one; a typed choice ("5 - Excellent", or a
bare digit) only while the customer's last chat waits for its rating, otherwise it is
an ordinary first message. A late or repeated answer is thanked, and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cards.markdown import message_text
from cards.rating import CHOICE_KEYS, RATE, SCORES, rating_activity
from cards.request import card_activity, stars
from dialogs.activity import customer_key, field
from dialogs.chatcards import chat_card
from dialogs.context import FlowContext
from dialogs.i18n import Texts, languages
from dialogs.replies import card_update, text_activity, to_conversation, to_thread
from dialogs.turn import Turn
from store import ratings
from store.core import ChatView
from store.outbox import Outgoing
from store.ratings import Rated, RatingTurn
from store.vocabulary import Refusal, Refused

# How long after the close a rating is still taken.
RATING_WINDOW = timedelta(hours=24)
COMMENT_LIMIT = 1000

# Why a rating was not taken, as the customer is told (each key in full).
CSAT_KEYS = {
    Refusal.ALREADY_RATED: "csat.already_rated",
    Refusal.RATING_TOO_LATE: "csat.rating_too_late",
    Refusal.NOTHING_TO_RATE: "csat.nothing_to_rate",
}


def with_rating_question(
    ctx: FlowContext, chat: ChatView, goodbye: dict[str, Any]
) -> dict[str, Any]:
    """The goodbye with the rating question under it (one message: the customer sees the
    end of the chat and the question together); unchanged when ratings are off."""
    if not ctx.csat_enabled:
        return goodbye
    question = rating_activity(chat.ref, ctx.customer_texts(chat.customer_locale))
    return {**question, "text": f"{goodbye['text']}\n\n{question['text']}"}


def _typed_score(text: str) -> int | None:
    """A choice's text in any language, or a bare digit 1 to 5."""
    typed = text.strip()
    if typed in {str(score) for score in SCORES}:
        return int(typed)
    for language in languages():
        t = Texts(language)
        for score in SCORES:
            if typed.casefold() == t(CHOICE_KEYS[score]).casefold():
                return score
    return None


def read_rating(turn: Turn) -> tuple[int, str | None, str | None] | None:
    """(score, chat reference or None, comment or None) if this message answers the question."""
    value = turn.value
    if value is not None and value.get("action") == RATE:
        score = value.get("score")
        ref = value.get("chat")
        if isinstance(score, int) and score in SCORES and isinstance(ref, str) and ref:
            comment = value.get("comment")
            text = comment.strip()[:COMMENT_LIMIT] if isinstance(comment, str) else ""
            return score, ref[:64], text or None
        return None
    # Typed: only a plain message (no data of any kind, no files) can be a typed choice.
    if turn.activity.get("value") is None and not turn.activity.get("attachments"):
        score = _typed_score(turn.written)
        if score is not None:
            return score, None, None
    return None


async def rating_message(ctx: FlowContext, turn: Turn) -> bool:
    """Handle an answer to the rating question; False when the message is not one."""
    if not ctx.csat_enabled:
        return False
    found = read_rating(turn)
    if found is None:
        return False
    score, ref, comment = found
    rating = RatingTurn(
        channel_id=turn.channel,
        user_id=customer_key(turn.activity, token_bound_ids=ctx.token_bound_ids),
        ref=ref,
        score=score,
        comment=comment,
    )

    async with ctx.store.unit() as tx:
        target = await ratings.check_rating(tx, rating, RATING_WINDOW)
        if isinstance(target, Refused):  # nothing to rate: an ordinary message
            return False
        if not await tx.first_time(turn.keys):
            return True
        outcome = await ratings.do_rate_chat(tx, target, rating, RATING_WINDOW)
        tx.enqueue(notify_rating(ctx, turn, outcome))
    return True


def notify_rating(ctx: FlowContext, turn: Turn, outcome: Rated | Refused) -> list[Outgoing]:
    """The customer is thanked (or told why not); a rating redraws the summary card and
    is said in the chat's thread."""
    reference = turn.reference
    t = ctx.customer_texts(turn.locale)
    if isinstance(outcome, Refused):
        return [to_conversation(reference, text_activity(t(CSAT_KEYS[outcome.reason])))]
    chat = outcome.chat
    team = ctx.team_texts
    # The name they gave, if any (``turn.person`` falls back to their id: no name to show).
    name = field(turn.activity, "from").get("name") or chat.customer_name
    said = team(
        "csat.rated_thread",
        customer=message_text(name),
        stars=stars(outcome.score),
        score=outcome.score,
    )
    if outcome.comment:
        said = f"{said} “{message_text(outcome.comment)}”"
    summary = team("card.summary")
    return [
        to_conversation(reference, text_activity(t("csat.thanks"))),
        card_update(chat.id, card_activity(chat_card(ctx, chat), summary)),
        to_thread(chat.id, text_activity(said)),
    ]
