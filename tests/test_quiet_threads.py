"""A chat's thread is for the conversation: the bridge posts there only where someone
must act or the customer's state changed, and never @mentions a colleague for talking."""

from __future__ import annotations

from tests import activities as act
from tests.conftest import Bridge, accept, open_chat, setup_room
from tests.test_team import HUNG, LAN, MAI, MINH, offer_of, online, press, say, thread

PICTURE = {"contentType": "image/jpeg", "contentUrl": "https://files.test/a.jpg", "name": "a.jpg"}


async def test_a_whole_chat_leaves_few_bot_posts_in_its_thread(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    await online(bridge, MINH, HUNG)
    await bridge.post(act.room_message(bridge.service_url, MAI, "tags add giao-hang"))
    chat = await open_chat(bridge, "cust-quiet", "Đơn hàng #A1234 chưa giao", name="Lan")
    await bridge.post(
        act.webchat_message(
            bridge.service_url, "cust-quiet", "Ảnh đây ạ", name="Lan", attachments=[PICTURE]
        )
    )
    await bridge.settled()
    await accept(bridge, chat, MINH)
    await say(bridge, chat, MINH, "Dạ em kiểm tra ngay ạ")
    await say(bridge, chat, LAN, "Kho HN xuất trễ đơn này")  # a colleague, not in the chat
    await say(bridge, chat, LAN, "Báo khách thứ Sáu nhé")
    await say(bridge, chat, MINH, "/invite @Hùng", HUNG)
    await press(bridge, chat, HUNG, "join", offer=offer_of(bridge, chat)["offer"])
    await say(bridge, chat, HUNG, "Chị ơi đơn sẽ giao thứ Sáu ạ")
    await say(bridge, chat, MINH, "/tag giao-hang")
    await press(bridge, chat, HUNG, "leave")
    posts = thread(bridge, chat)[1:]  # after the request card that opened the thread
    humans = 4 + 2  # Minh, Lan Anh twice, the /invite, Hùng, the /tag (their own posts)
    from_customer = [p for p in posts if p.get("text", "").startswith("**Lan:**")]
    own = [p for p in posts if p not in from_customer]
    # The customer's words and picture are one post; the bridge said two things of its own:
    # the invitation Hùng had to answer, and one hint to Lan Anh (no @mention).
    assert len(from_customer) == 1 and from_customer[0]["attachments"][0]["name"] == "a.jpg"
    assert len(own) == 2, [p.get("text") or "card" for p in own]
    hint = next(p for p in own if "internal note" in p.get("text", ""))
    assert "entities" not in hint
    assert len(own) < humans
