"""Customer satisfaction: the question after close, and the answer (card or typed).

A rating is recognised before the intake opens a chat: a press of the rating card
(``value.action == "rate"``) always is one; a typed choice ("5 - Excellent", or a
bare digit) only while the customer's last chat waits for its rating, otherwise it is
an ordinary first message. A late or repeated answer is thanked, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from cards.envelope import adaptive_card
from cards.markdown import message_text
from cards.rating import (
    CHOICE_KEYS,
    COMMENT,
    COMMENT_LIMIT,
    RATE,
    SCORES,
    card_message,
    comment_card,
    rated_card,
    rating_activity,
    transcript_button,
)
from cards.request import card_activity, stars
from dialogs.chatcards import chat_card
from dialogs.context import FlowContext
from dialogs.i18n import Texts, languages
from dialogs.replies import card_update, notice, text_activity, to_conversation, to_thread
from dialogs.turn import Turn
from store import ratings
from store.channels import facts
from store.core import ChatView
from store.mail import email_address
from store.outbox import Outgoing, conversation_lane
from store.ratings import RATING_WINDOW, Rated, RatingTurn
from store.vocabulary import Refusal, Refused, Send

# Why a rating was not taken, as the customer is told (each key in full).
CSAT_KEYS = {
    Refusal.ALREADY_RATED: "csat.already_rated",
    Refusal.RATING_TOO_LATE: "csat.rating_too_late",
    Refusal.NOTHING_TO_RATE: "csat.nothing_to_rate",
    Refusal.ALREADY_COMMENTED: "csat.already_commented",
}


def with_rating_question(
    ctx: FlowContext, chat: ChatView, goodbye: dict[str, Any]
) -> dict[str, Any]:
    """The goodbye with the rating question under it, asked once: the goodbye is the
    message's text, the question and its five choices are its card (no text line or
    quick replies repeat them); unchanged when ratings are off."""
    t = ctx.customer_texts(chat.customer_locale)
    # Mail is on and the customer gave an address: the transcript is offered by mail.
    transcript = ctx.mail_enabled and email_address(chat.customer_contact) is not None
    if not ctx.csat_enabled:
        if not transcript:
            return goodbye
        return {**goodbye, **card_message(adaptive_card([], [transcript_button(chat.ref, t)]))}
    question = rating_activity(chat.ref, t, transcript=transcript)
    return {**question, "text": goodbye["text"]}


def read_comment(turn: Turn) -> tuple[str, str] | None:
    """(chat reference, comment) if this message sends the comment offered after a score."""
    value = turn.value
    if value is None or value.get("action") != COMMENT:
        return None
    ref, comment = value.get("chat"), value.get("comment")
    if not isinstance(ref, str) or not ref or not isinstance(comment, str):
        return None
    return ref[:64], comment.strip()[:COMMENT_LIMIT]


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
    if turn.plain:
        score = _typed_score(turn.written)
        if score is not None:
            return score, None, None
    return None


def _rating(turn: Turn, ref: str | None, score: int | None, comment: str | None) -> RatingTurn:
    """What the customer's message says (a score, a comment, or both), and who says it:
    the store finds the chat it rates from these."""
    return RatingTurn(
        channel_id=turn.channel, user_id=turn.customer, ref=ref, score=score, comment=comment
    )


async def rating_message(ctx: FlowContext, turn: Turn) -> bool:
    """Handle an answer to the rating question, or the comment after it; False when the
    message is neither."""
    if not ctx.csat_enabled:
        return False
    commented = read_comment(turn)
    if commented is not None:
        await _comment(ctx, turn, *commented)
        return True
    found = read_rating(turn)
    if found is None:
        return False
    score, ref, comment = found
    rating = _rating(turn, ref, score, comment)
    async with ctx.store.unit() as tx:
        target = await ratings.check_rating(tx, rating, RATING_WINDOW)
        if isinstance(target, Refused):  # nothing to rate: an ordinary message
            return False
        if not await tx.first_time(turn.keys):
            return True
        outcome = await ratings.do_rate_chat(tx, target, rating, RATING_WINDOW)
        tx.enqueue(notify_rating(ctx, turn, outcome))
    return True


async def _comment(ctx: FlowContext, turn: Turn, ref: str, comment: str) -> None:
    """The comment sent after the score: kept once, thanked, said in the thread."""
    if not comment:
        return
    rating = _rating(turn, ref, None, comment)
    async with ctx.store.unit() as tx:
        target = await ratings.check_rating(tx, rating, RATING_WINDOW)
        if isinstance(target, Refused) or not await tx.first_time(turn.keys):
            return
        outcome = await ratings.do_comment(tx, target, comment, RATING_WINDOW)
        tx.enqueue(notify_rating(ctx, turn, outcome, comment_only=True))


def _locked(turn: Turn, score: int, t: Texts) -> list[Outgoing]:
    """The pressed question redrawn without its choices, where the channel can replace a
    sent message (Teams); elsewhere a second press is answered politely instead."""
    pressed = turn.reply_to
    if not facts(turn.channel).replaces_sent or pressed is None:
        return []
    reference = turn.reference
    lane = conversation_lane(reference["conversation"]["id"])
    locked = card_message(rated_card(score, t))
    return [Outgoing.of(lane, Send(locked, conversation=reference, replaces=pressed))]


def notify_rating(
    ctx: FlowContext, turn: Turn, outcome: Rated | Refused, *, comment_only: bool = False
) -> list[Outgoing]:
    """The customer is thanked (or told why not) and, after a score, offered a comment;
    a rating redraws the summary card and is said in the chat's thread."""
    reference = turn.reference
    t = ctx.customer_texts(turn.locale)
    if isinstance(outcome, Refused):
        return [to_conversation(reference, notice(text_activity(t(CSAT_KEYS[outcome.reason]))))]
    chat = outcome.chat
    team = ctx.team_texts
    # The name the chat knows them by (an anonymous visitor's "Khách #4821" included).
    name = chat.customer_name
    said = team(
        "csat.rated_thread",
        customer=message_text(name),
        stars=stars(outcome.score),
        score=outcome.score,
    )
    if outcome.comment:
        said = f"{said} “{message_text(outcome.comment)}”"
    summary = team("card.summary")
    if comment_only:
        thanks = notice(text_activity(t("csat.comment_thanks")))
    elif outcome.comment:
        thanks = notice(text_activity(t("csat.thanks")))
    else:
        thanks = notice(card_message(comment_card(chat.ref, t), t("csat.thanks")))
    return [
        *([] if comment_only else _locked(turn, outcome.score, t)),
        to_conversation(reference, thanks),
        card_update(chat.id, card_activity(chat_card(ctx, chat), summary)),
        to_thread(chat.id, text_activity(said)),
    ]
