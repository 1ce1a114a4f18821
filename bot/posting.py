"""One post: which call each kind of outbox row takes, and through which channel.

Rooms, threads, cards and agents' personal messages are Teams (the Bot Connector); a
send to a customer goes through the customer's channel (``bot/channels``), chosen by
the target reference.

A post is one row, or several lines of one author sent as one activity; the rows' ids
go with it as delivery keys, so a repeated post is recognisably the same one.
"""

from __future__ import annotations

from bot.channels import Channels
from bot.marks import Thread
from bot.pacing import coalesced, with_delivery_keys
from bot.threads import ThreadMissing, Threads
from store.models import OutboxItem
from store.vocabulary import CreateThread, Send, SendPersonal, UpdateCard, read_payload


async def post(channels: Channels, threads: Threads, run: list[OutboxItem]) -> Thread | None:
    """Send ``run`` as one activity; a new chat card returns where its thread is."""
    connector = channels.connector
    item = run[0]
    activity = with_delivery_keys(
        coalesced([i.payload["activity"] for i in run]), [i.id for i in run]
    )
    match read_payload(item.kind, item.payload):
        case CreateThread(chat_id, room):
            thread_id, activity_id = await connector.create_thread(room, activity)
            # A chat moved to another department gets a new thread: forget the old one.
            threads.forget(chat_id)
            return chat_id, thread_id, activity_id
        case SendPersonal(room, member):
            reference = await connector.open_personal(room, member)
            await connector.send(reference, activity)
        case UpdateCard(chat_id):
            reference, card_id = await threads.of(chat_id)
            if card_id is None:
                raise ThreadMissing(f"chat {chat_id} has no card")
            await connector.update(reference, card_id, activity)
        case Send(conversation=dict(reference), replaces=str(replaces)):
            # Only where the channel replaces a sent message (``replaces_sent``: Teams).
            await connector.update(reference, replaces, activity)
        case Send(conversation=None, chat_id=chat_id):
            assert chat_id is not None
            reference, _ = await threads.of(chat_id)
            await connector.send(reference, activity)
        case Send(conversation=reference) if reference is not None:
            await channels.for_reference(reference).send(reference, activity)
    return None
