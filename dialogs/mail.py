"""The customer asks for a chat's transcript by mail (the button on the closing message)."""

from __future__ import annotations

from cards.markdown import message_text
from cards.rating import SEND_TRANSCRIPT
from dialogs.context import FlowContext
from dialogs.replies import mail, notice_to
from dialogs.turn import Turn
from store.mail import check_transcript
from store.vocabulary import MailPurpose


async def transcript_request(ctx: FlowContext, turn: Turn) -> bool:
    """Queue the transcript's mail for a press of "send the transcript by email"; False
    when the message is not one. Once per press (its keys); a foreign, open or unknown
    chat, or no address, is answered without a mail."""
    value = turn.value
    if value is None or value.get("action") != SEND_TRANSCRIPT:
        return False
    ref = value.get("chat")
    t = ctx.customer_texts(turn.locale)
    user = turn.customer
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return True
        found = None
        if ctx.mail_enabled and isinstance(ref, str) and ref:
            found = await check_transcript(tx, turn.channel, user, ref[:64])
        if found is None:
            tx.enqueue([notice_to(turn.reference, t("mail.transcript_unavailable"))])
            return True
        chat_id, address = found
        said = t("mail.transcript_coming", address=message_text(address))
        tx.enqueue([mail(chat_id, MailPurpose.TRANSCRIPT), notice_to(turn.reference, said)])
    return True
