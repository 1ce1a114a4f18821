"""Sample cards and a sample transcript of one story, for the screenshots in docs/ux.md.

Runs against this tree or, with ``PYTHONPATH`` naming an older tree (an export of a
previous commit), against that one, so the same story is shown before and after:

    python tests/ux_samples.py OUTDIR
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cards import request
from dialogs.i18n import Texts
from store.models import ChatState, MessageKind, ParticipantRole
from store.transcripts import Transcript, TranscriptLine
from store.views import ChatView, Member, Person

OPENED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
MINH, HUNG = Person("29:minh", "Minh Anh"), Person("29:hung", "Hùng")
QUESTION = "Chào shop, đơn hàng #A1234 của em đặt từ thứ Hai mà đến giờ vẫn chưa giao ạ"


def chat(state: ChatState) -> ChatView:
    active = state != ChatState.WAITING
    fields = {f.name for f in dataclasses.fields(ChatView)}
    values: dict[str, Any] = {
        "id": 42,
        "ref": "Q2hhdC1yZWYtMDAwMDQy",
        "state": state,
        "department": "Chăm sóc khách hàng",
        "customer_name": "Trần Thị Lan",
        "customer_channel": "webchat",
        "customer_locale": "vi",
        "customer_reference": {},
        "owner_name": MINH.name if active else None,
        "owner_teams_id": MINH.teams_id if active else None,
        "closed_by_teams_id": None,
        "thread_id": None,
        "room_reference": None,
        "created_at": OPENED,
        "accepted_at": OPENED + timedelta(minutes=1) if active else None,
        "closed_at": OPENED + timedelta(minutes=12) if state == ChatState.CLOSED else None,
        "message_count": 9,
        "first_messages": (QUESTION, "Chăm sóc khách hàng"),
        "participants": (Member(MINH, ParticipantRole.OWNER),) if active else (),
        "tags": ("giao-hang",) if active else (),
        "department_tags": ("giao-hang", "hoa-don"),
        "earlier_chats": ((17, "Q2hhdC1yZWYtMDAwMDE3"),),
        "earlier_owner": MINH.name,
        "supervisors": ("29:mai",),
    }
    return ChatView(**{k: v for k, v in values.items() if k in fields})


def link(ref: str) -> str:
    return f"https://bridge.example/transcripts/{ref}?token=1"


def card(state: ChatState, t: Texts) -> dict[str, Any]:
    """The card as the thread shows it (after: the owner's own view when active)."""
    if hasattr(request, "role_of"):
        viewer = MINH.teams_id if state == ChatState.ACTIVE else None
        now = OPENED + timedelta(minutes=3)
        return request.request_card(chat(state), t, now=now, viewer=viewer, links=link)
    from cards.departments import with_returning

    url = link("x") if state == ChatState.CLOSED else None
    built = request.request_card(chat(state), t, transcript_url=url)
    return with_returning(built, chat(state), t, link)


def transcript() -> Transcript:
    at = OPENED
    lines = [
        (MessageKind.INCOMING, "Trần Thị Lan", QUESTION, 0, ()),
        (
            MessageKind.INCOMING,
            "Trần Thị Lan",
            "Ảnh đơn hàng đây ạ",
            20,
            (
                {
                    "name": "don.png",
                    "url": "https://picsum.photos/seed/a1234/320/200",
                    "contentType": "image/png",
                },
            ),
        ),
        (MessageKind.ACTIVITY, "Minh Anh", "chat.accepted", 60, ()),
        (
            MessageKind.OUTGOING,
            "Minh Anh",
            "Dạ em chào chị, em kiểm tra đơn #A1234 giúp chị ạ",
            70,
            (),
        ),
        (MessageKind.NOTE, "Long", "Đơn này kho Hà Nội xuất trễ, báo khách thứ Sáu", 150, ()),
        (MessageKind.OUTGOING, "Minh Anh", "Đơn của chị sẽ được giao vào thứ Sáu ạ", 200, ()),
        (MessageKind.INCOMING, "Trần Thị Lan", "Dạ cảm ơn em", 260, ()),
        (MessageKind.ACTIVITY, "Minh Anh", "chat.closed", 720, ()),
    ]
    bot = getattr(MessageKind, "BOT", None)
    if bot is not None:
        lines.insert(
            1,
            (
                bot,
                "",
                "Cảm ơn Quý khách đã liên hệ! Tin nhắn đã được chuyển tới đội hỗ trợ; "
                "nhân viên sẽ trả lời tại đây.",
                1,
                (),
            ),
        )
    return Transcript(
        chat=chat(ChatState.CLOSED),
        participants=(("Minh Anh", ParticipantRole.OWNER),),
        lines=tuple(
            TranscriptLine(kind, author, text, at + timedelta(seconds=s), tuple(files))
            for kind, author, text, s, files in lines
        ),
    )


def transcript_page() -> str:
    t = Texts("vi")
    try:
        from bot.transcript_page import render
    except ImportError:
        from bot.transcript import render  # the page before it had a module of its own

        return render(transcript(), t)
    return render(transcript(), t, "Asia/Ho_Chi_Minh")


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    cards = [
        {"name": f"card-{state.value}", "card": json.loads(json.dumps(card(state, Texts("vi"))))}
        for state in ChatState
    ]
    (out / "cards.json").write_text(json.dumps(cards, ensure_ascii=False), encoding="utf-8")
    (out / "transcript.html").write_text(transcript_page(), encoding="utf-8")
    print(out)
